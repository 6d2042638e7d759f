import type { EntropySource } from "../entropy/source.js";
import type { Tpm } from "../tpm/tpm.js";
import type { AuditKeyHome } from "./audit-key-home.js";
import type { RollbackCounter } from "./rollback-counter.js";
import type { SealingKeyHome } from "./sealing/key-home.js";
import type { StorageArea } from "./storage-area.js";
import type { NvPlacesRecord } from "./store-file.js";
import type { TpmOwnerAuth } from "./tpm-owner-auth.js";

/**
 * A backend: where a store keeps its two storage areas (area files, TPM NV indices, token objects).
 * Everything else of a store (store.json, audit log, PIN, schedule, bindings, the daemon's socket)
 * stays in the store directory, whichever backend holds the areas. storage/open.ts is the one
 * opener; storage/backends.ts lists the backends.
 */
export interface BackendOpenOptions {
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  /** The caller's environment, for secrets named by variables (REID_PKCS11_PIN_FILE). */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Asks the user for the secret `label` names ("user PIN of token 'reid'") at the terminal; absent
   * when no one can be asked. It rejects with a NoTerminalError when it finds no terminal: either
   * way the backend then fails with its own clear error, saying how else to give the secret.
   */
  readonly prompt?: (label: string) => Promise<string>;
  /** Where the owner gate holds the authValue a proven PIN gives reid's TPM NV indices (§5.7). */
  readonly ownerAuth?: TpmOwnerAuth;
  /** What store.json records of the places a backend chose itself (a TPM store's indices, §5.7). */
  readonly places?: PlacesMemory;
}

/** store.json's record of a TPM store's counter and audit key indices, kept by the store's memory. */
export interface PlacesMemory {
  /** What is recorded; null: nothing yet. */
  recorded(): NvPlacesRecord | null;
  /** Whether store.json was there at open: an earlier version may have placed them without a record. */
  readonly earlier: boolean;
  /** Records them durably (a write open only). */
  remember(nv: NvPlacesRecord): void;
}

/**
 * What keeps the identifier from other programs of the machine (docs/spec.md §3.8 `protectedBy`):
 * the store directory's permissions (`directory`), the token's user PIN (`token-pin`), the TPM
 * under the NV indices' authValue from the owner PIN (`tpm-pin`), an empty one before a PIN is set
 * (`tpm-none`), or the owner hierarchy for an earlier version's indices (`tpm-owner`).
 */
export type Protection = "directory" | "token-pin" | "tpm-pin" | "tpm-none" | "tpm-owner";

export interface OpenedBackend {
  /** The two storage areas, already held exclusively by this process (a per-place lock). */
  readonly area: StorageArea;
  /** For messages and status only ("swtpm:host=..,port=.., NV 0x01524500"). Never a path anything is written to. */
  readonly description: string;
  /** The backend's own generator on the same connection (TPM2_GetRandom, C_GenerateRandom), if any. */
  randomSource?(): EntropySource;
  /** Where the audit log's key lives (docs/spec.md §9.7). */
  readonly auditKey?: AuditKeyHome;
  /** Where the highest committed epoch is kept apart from the areas (docs/spec.md §5.10). */
  readonly counter?: RollbackCounter;
  /** The TPM connection, for the factory source `tpm` (only the TPM backend sets it). */
  readonly tpm?: Tpm;
  /** What protects the identifier now; absent: the store directory's permissions. */
  protectedBy?(): Promise<Protection>;
  /** Where this backend keeps sealing keys (`reid seal --key tpm|pkcs11`), if it can. */
  readonly sealingKeys?: SealingKeyHome;
  /** Releases the connection or session; called after the area is closed. */
  close(): Promise<void>;
}

export interface Backend<S> {
  /** The name the store remembers ("files", "tpm", "pkcs11") and --source uses ("tpm", "tpm+os"). */
  readonly kind: string;
  /** Parses --tpm/--pkcs11 text (or its variable); a UsageError (exit 2) on bad text. Cheap: no I/O. */
  parse(text: string): S;
  /** The spec as the store remembers it, every parameter spelled out. */
  format(spec: S): string;
  /** Whether two specs name the same place (TPM + index pair; module + token + objects). */
  samePlace(a: S, b: S): boolean;
  /** The --source used when none is given ("tpm+os", "pkcs11+os"). */
  readonly defaultSource: string;
  /** Opens the areas (and connection) for the store directory `directory`. Heavy modules load here. */
  open(directory: string, spec: S, options: BackendOpenOptions): Promise<OpenedBackend>;
  /** The option's syntax, for help ("swtpm:host=H,port=P | ... [,nv-index=0x...]"). */
  readonly syntax?: string;
  /** What the owner of a second store naming an owned place can do instead ("choose another nv-index="). */
  readonly anotherPlace?: string;
  /**
   * Whether `directory` holds this backend's areas though no store.json names a backend: a store
   * from before store.json, which is this backend's and no other's.
   */
  holdsAreasIn?(directory: string): boolean;
}
