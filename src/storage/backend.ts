import type { EntropySource } from "../entropy/source.js";
import type { Tpm } from "../tpm/tpm.js";
import type { StorageArea } from "./storage-area.js";

export interface BackendOpenOptions {
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  /** The caller's environment, for secrets named by variables (REID_PKCS11_PIN_FILE). */
  readonly env: NodeJS.ProcessEnv;
  /** Asks the user for a secret at the terminal; absent when there is none (then: a clear error). */
  readonly prompt?: (label: string) => Promise<string>;
}

export interface OpenedBackend {
  /** The two storage areas, already held exclusively by this process (a per-place lock). */
  readonly area: StorageArea;
  /** For messages and status only ("swtpm:host=..,port=.., NV 0x01524500"). Never a path anything is written to. */
  readonly description: string;
  /** The backend's own generator on the same connection (TPM2_GetRandom, C_GenerateRandom), if any. */
  randomSource?(): EntropySource;
  /** The TPM connection, for the factory source `tpm` (only the TPM backend sets it). */
  readonly tpm?: Tpm;
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
}
