import { AuditLog } from "../audit/audit-log.js";
import { OwnerPin } from "../auth/owner-pin.js";
import { PasskeyStore } from "../auth/passkey-store.js";
import type { RandomSupply } from "../entropy/open.js";
import { type SourceSpec, sourceName } from "../entropy/source-spec.js";
import { UsageError } from "../errors.js";
import { type FactoryOptions, FactoryUnit } from "../factory/factory-unit.js";
import { openFileStore } from "../storage/file/open-file-store.js";
import type { IdentifierStore } from "../storage/identifier-store.js";
import { AesGcmSealer } from "../storage/sealer.js";
import type { TpmSpec } from "../tpm/spec.js";
import type { Tpm } from "../tpm/tpm.js";
import { ControlUnit } from "./control-unit.js";
import { ProcessingUnit } from "./processing-unit.js";
import { ScheduleRegister } from "./schedule.js";

export interface ElementOptions {
  readonly storeDirectory: string;
  readonly source: SourceSpec;
  /** False: only status and reads; the store opens read-only. */
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  /** The key-encryption key that seals the identifier at rest (32 bytes), if one is configured. */
  readonly kek?: Uint8Array | null;
  /** The identifier lives in this TPM's NV (and a TPM source draws on it), not in area files. */
  readonly tpm?: ElementTpm | null;
  /** The factory sources' settings (the simulated PUF's conditions, the host id files). */
  readonly factory?: FactoryOptions;
  readonly now?: () => Date;
}

export interface ElementTpm {
  readonly spec: TpmSpec;
  /** The owner hierarchy's password, when the owner set one. */
  readonly ownerAuth?: Uint8Array;
}

export interface Element {
  readonly control: ControlUnit;
  close(): Promise<void>;
}

/**
 * The element: one store, one entropy source, one request pipeline. It holds the store's writer
 * lock until closed; the TRNG starts only when a request needs random information. What keeps
 * something beside the identifier (the bindings) listens on `control.events`, added by whoever
 * composes the element with it.
 */
export async function openElement(options: ElementOptions): Promise<Element> {
  const { store, tpm } = await openStore(options);
  let supply: RandomSupply | undefined;
  const processing = new ProcessingUnit(store, async () => {
    if (!supply) {
      // Loaded here, not at the top: status and erase never pay for the TRNG and its WebAssembly.
      const { openRandomSupply, openSource, SUPPLY_PROFILES } = await import("../entropy/open.js");
      supply = openRandomSupply(openSource(options.source, tpm ?? undefined), SUPPLY_PROFILES.identifier);
    }
    return supply.fifo;
  });
  const control = new ControlUnit(store, processing, {
    sourceName: sourceName(options.source),
    // Read-only opens still guard: checking a PIN must count the try, and fails if it cannot.
    owner: new OwnerPin(options.storeDirectory, options.now),
    passkeys: new PasskeyStore(options.storeDirectory, options.now),
    audit: new AuditLog(options.storeDirectory),
    schedule: new ScheduleRegister(options.storeDirectory),
    factory: new FactoryUnit(options.storeDirectory, tpm, options.factory),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    control,
    close: async () => {
      await supply?.close();
      await store.close();
    },
  };
}

/** The store the options name: area files in the store directory, or NV indices in a TPM. */
async function openStore(options: ElementOptions): Promise<{ store: IdentifierStore; tpm: Tpm | null }> {
  const sealer = options.kek ? new AesGcmSealer(options.kek) : null;
  const common = { write: options.write, lockTimeoutMs: options.lockTimeoutMs, sealer };
  if (!options.tpm) {
    if (options.source.kind === "tpm") {
      throw new UsageError(
        `--source ${sourceName(options.source)} needs a TPM: give --tpm SPEC (or REID_TPM)`,
      );
    }
    return { store: await openFileStore(options.storeDirectory, common), tpm: null };
  }
  // Loaded here: the file backend never pays for the TPM client.
  const { openTpmStoreAt } = await import("../storage/tpm/open-tpm-store.js");
  return openTpmStoreAt(options.storeDirectory, {
    ...common,
    spec: options.tpm.spec,
    ...(options.tpm.ownerAuth ? { ownerAuth: options.tpm.ownerAuth } : {}),
  });
}
