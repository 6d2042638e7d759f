import { resolve } from "node:path";
import { ReidError, UsageError } from "../errors.js";
import type { OpenedBackend, PlacesMemory } from "./backend.js";
import { backendName, FILES } from "./backends.js";
import { DualAreaStore } from "./dual-area-store.js";
import { AREA_VERDICTS, type IdentifierStore } from "./identifier-store.js";
import type { Sealer } from "./sealer.js";
import { StoreSealing } from "./sealing/store-sealing.js";
import { checkStoreDirectory } from "./store-directory.js";
import { readStoreFile, type StoreFile } from "./store-file.js";
import { lockStoreDirectory } from "./store-lock.js";
import { rememberingStore, StoreMemory } from "./store-memory.js";
import { defaultStoreSpec, type StoreSpec, specText, storeSpecOf } from "./store-spec.js";
import type { TpmOwnerAuth } from "./tpm-owner-auth.js";

export interface StoreOpenOptions {
  /** Open for commits, or only to look. */
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  /**
   * The key-encryption key given (--kek-file): it seals a store that store.json does not say is
   * sealed by a key in its TPM or token (docs/spec.md §5.4).
   */
  readonly sealer?: Sealer | null;
  /** The new key-encryption key of a rotation (`seal --rotate --new-kek-file`). */
  readonly newSealer?: Sealer | null;
  /** For secrets a backend's spec names by variable; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Asks for a secret at the terminal, when there is one. */
  readonly prompt?: (label: string) => Promise<string>;
  /**
   * Reads the record at once, for a long-lived open (the daemon): another store's place is refused
   * before anything runs on it. Areas that read but cannot serve (corrupt, foreign) are left to the
   * operations to report.
   */
  readonly claim?: boolean;
  /** Where the owner gate holds the TPM NV indices' authValue (BackendOpenOptions.ownerAuth). */
  readonly ownerAuth?: TpmOwnerAuth;
}

export interface OpenedStore {
  /** Closing it closes everything opened for it: the area, the backend's connection, the lock. */
  readonly store: IdentifierStore;
  /** The backend that holds the areas, and where (what the store remembers). */
  readonly spec: StoreSpec;
  /** The backend's own side: its generator and TPM, if it has them. */
  readonly backend: OpenedBackend;
}

/**
 * The one way a store is opened, whatever its backend: the directory's lock first (one element per
 * store: the audit log, PIN and schedule live there), its permissions, what it remembers
 * (store.json), the backend (`requested`, given by an option, must agree with what the store
 * remembers; without one, the store's own, else files), and over the backend's areas the
 * crash-atomic dual-area store with the sealer and the store id. On any failure everything opened
 * so far is closed again.
 * Specified in docs/spec.md §5.5.
 */
export async function openStore(
  directory: string,
  requested: StoreSpec | null,
  options: StoreOpenOptions,
): Promise<OpenedStore> {
  const location = resolve(directory);
  const lock = await lockStoreDirectory(location, { timeoutMs: options.lockTimeoutMs, write: options.write });
  const undo: (() => Promise<void>)[] = [() => lock.release()];
  // Every step runs, even after one fails: a lock or a connection is never left behind.
  const release = async () => {
    let failure: unknown = null;
    for (const step of undo.splice(0).reverse()) await step().catch((error: unknown) => (failure ??= error));
    if (failure !== null) throw failure;
  };
  try {
    checkStoreDirectory(location);
    const remembered = readStoreFile(location);
    const spec = await chooseBackend(location, requested, remembered);
    // The backend records what it chooses (a TPM store's indices) through the store's memory,
    // made below: it asks only once the store is open.
    let memory: StoreMemory | null = null;
    const places: PlacesMemory = {
      recorded: () => (memory ? memory.nv : (remembered?.nv ?? null)),
      earlier: remembered !== null && !remembered.legacy,
      remember: (nv) => (memory as StoreMemory).rememberNv(nv),
    };
    const backend = await spec.backend.open(location, spec.spec, {
      write: options.write,
      lockTimeoutMs: options.lockTimeoutMs,
      env: options.env ?? process.env,
      ...(options.prompt ? { prompt: options.prompt } : {}),
      ...(options.ownerAuth ? { ownerAuth: options.ownerAuth } : {}),
      places,
    });
    undo.push(
      () => backend.close(),
      () => backend.area.close(),
    );
    memory = new StoreMemory(
      location,
      spec.kind,
      specText(spec),
      remembered,
      options.write,
      spec.kind !== FILES,
    );
    // A file store from before store.json: its areas are its own, whatever id their record carries.
    const adopt = remembered === null && spec.kind === FILES;
    let sealing: StoreSealing | null = null;
    const area = new DualAreaStore(backend.area, {
      // The key in force is opened at its first use (StoreSealing.prepare), not for a status.
      sealer: null,
      beforeKeyUse: () => (sealing as StoreSealing).prepare(),
      keyId: () => (sealing as StoreSealing).keyId(),
      directory: location,
      description: backend.description,
      name: spec.kind === FILES ? location : `${location} (${backend.description})`,
      storeId: memory.storeId,
      ...(adopt ? { adopt: (id: Uint8Array) => (memory as StoreMemory).adopt(id) } : {}),
      ...(spec.backend.anotherPlace ? { anotherPlace: spec.backend.anotherPlace } : {}),
      counter: backend.counter ?? null,
    });
    sealing = new StoreSealing(
      area,
      memory,
      backend.sealingKeys ?? null,
      options.sealer ?? null,
      options.write,
      options.newSealer ?? null,
    );
    // From here the store closes its own area; closing it releases the rest.
    undo.pop();
    area.sealing = sealing;
    const store = rememberingStore(area, memory, {
      release,
      settle: () => lock.settle(),
    });
    if (options.claim) await claim(store);
    return { store, spec, backend };
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
}

/** Reads the record; what the areas say of themselves waits for the operations, all else throws. */
async function claim(store: IdentifierStore): Promise<void> {
  try {
    await store.info();
  } catch (error) {
    // A store the TPM keeps under the owner PIN's authorization waits for a proof (pin-required).
    if (error instanceof ReidError && (AREA_VERDICTS.has(error.code) || error.code === "pin-required"))
      return;
    await store.close().catch(() => undefined);
    throw error;
  }
}

/** The backend whose areas a directory without store.json holds (a store from before it), or null. */
async function backendHoldingAreas(location: string): Promise<string | null> {
  const files = await defaultStoreSpec();
  return files.backend.holdsAreasIn?.(location) ? files.kind : null;
}

/** The backend to open: the one asked for, checked against what the store remembers, else the store's own. */
async function chooseBackend(
  location: string,
  requested: StoreSpec | null,
  remembered: StoreFile | null,
): Promise<StoreSpec> {
  if (!requested?.given) return remembered ? storeSpecOf(location, remembered) : defaultStoreSpec();
  // A store never mixes backends: what it holds is where it was first committed.
  const holder = remembered?.backend ?? (await backendHoldingAreas(location));
  if (holder !== null && holder !== requested.kind) {
    throw new UsageError(
      `store ${location} keeps its identifier with ${backendName(holder)}, not ${backendName(requested.kind)}: use another --store for it`,
      "store-backend",
    );
  }
  if (remembered === null) return requested;
  const before = await storeSpecOf(location, remembered);
  if (!requested.backend.samePlace(before.spec, requested.spec)) {
    throw new UsageError(
      `store ${location} keeps its identifier at ${remembered.spec}: give that place, or another --store`,
      "store-backend",
    );
  }
  return requested;
}
