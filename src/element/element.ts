import { AuditLog } from "../audit/audit-log.js";
import { PasskeyStore } from "../auth/passkey-store.js";
import type { RandomSupply } from "../entropy/open.js";
import { type SourceSpec, sourceName } from "../entropy/source-spec.js";
import { type FactoryOptions, FactoryUnit } from "../factory/factory-unit.js";
import { generatorOf } from "../storage/backends.js";
import type { StoreSpec } from "../storage/store-spec.js";
import { ControlUnit } from "./control-unit.js";
import { ProcessingUnit } from "./processing-unit.js";
import { ScheduleRegister } from "./schedule.js";
import { openElementStore } from "./store-side.js";

export interface ElementOptions {
  readonly storeDirectory: string;
  /** The backend holding the areas, as named (--tpm); absent: the one the store remembers, else files. */
  readonly store?: StoreSpec | null;
  /** The entropy source; absent: the backend's default (os, or tpm+os with the TPM backend). */
  readonly source?: SourceSpec | null;
  /** False: only status and reads; the store opens read-only. */
  readonly write: boolean;
  /** Opened to serve: another store's place is refused at once (see StoreOpenOptions.claim). */
  readonly claim?: boolean;
  readonly lockTimeoutMs: number;
  /** The key-encryption key that seals the identifier at rest (32 bytes), if one is configured. */
  readonly kek?: Uint8Array | null;
  /** The new key-encryption key of `seal --rotate --new-kek-file` (32 bytes). */
  readonly newKek?: Uint8Array | null;
  /** For secrets a backend's spec names by variable; default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Asks for a secret at the terminal, when there is one. */
  readonly prompt?: (label: string) => Promise<string>;
  /** The factory sources' settings (the simulated PUF's conditions, the host id files). */
  readonly factory?: FactoryOptions;
  readonly now?: () => Date;
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
  const side = await openElementStore(options);
  const { opened, owner, ownerAuth, source } = side;
  const { store, backend } = opened;
  let supply: RandomSupply | undefined;
  const processing = new ProcessingUnit(store, async () => {
    if (!supply) {
      // Loaded here, not at the top: status and erase never pay for the TRNG and its WebAssembly.
      const { openRandomSupply, openSource, SUPPLY_PROFILES } = await import("../entropy/open.js");
      supply = openRandomSupply(openSource(source, generatorOf(backend)), SUPPLY_PROFILES.identifier);
    }
    return supply.fifo;
  });
  const directory = store.directory;
  const audit = new AuditLog(directory, { keyHome: backend.auditKey ?? null });
  const control = new ControlUnit(store, processing, {
    sourceName: sourceName(source),
    // Read-only opens still guard: checking a PIN must count the try, and fails if it cannot.
    owner,
    ownerAuth,
    protectedBy: () => backend.protectedBy?.() ?? Promise.resolve("directory"),
    passkeys: new PasskeyStore(directory, options.now),
    audit,
    schedule: new ScheduleRegister(directory),
    factory: new FactoryUnit(directory, backend.tpm ?? null, options.factory),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    control,
    close: async () => {
      await supply?.close();
      audit.close();
      await side.close();
    },
  };
}
