import { join } from "node:path";
import { StorageError } from "../errors.js";
import { directoryExists } from "./durable-file.js";
import type { IdentifierStore } from "./identifier-store.js";
import type { SealingKeyRef } from "./sealing/key-home.js";
import {
  type NvPlacesRecord,
  newStoreId,
  type PendingSealing,
  STORE_FILE,
  type StoreFile,
  writeStoreFile,
} from "./store-file.js";

/**
 * What one open store remembers in store.json, and when it writes it. A read-only open never
 * writes. A write open writes what is new or changed (a legacy file, another spec for the same
 * place) once it has read the place as its own, when the directory exists: a place another store
 * owns is never remembered. A new directory is created by its first commit, not by a command that
 * was refused, so there the file waits for the first commit. It is always written before a record
 * can carry the store id.
 */
export class StoreMemory {
  private id: string | null;
  private committed: boolean;
  private pending: boolean;
  private sealingKey: SealingKeyRef | null;
  private sealingChange: PendingSealing | null;
  private nvPlaces: NvPlacesRecord | null;
  /** Whether the directory was there at open: a new one waits for its first commit. */
  private readonly existed: boolean;

  constructor(
    private readonly directory: string,
    private readonly backend: string,
    private readonly spec: string,
    remembered: StoreFile | null,
    private readonly write: boolean,
    /**
     * Whether to note the first commit: only where the areas live outside the directory (a TPM, a
     * token), which can lose them while the directory stays. A file store's areas go with it.
     */
    private readonly tracksCommits: boolean,
  ) {
    this.existed = directoryExists(directory);
    this.id = remembered?.id ?? (write ? newStoreId() : null);
    this.committed = remembered?.committed ?? false;
    this.sealingKey = remembered?.sealing ?? null;
    this.sealingChange = remembered?.pending ?? null;
    this.nvPlaces = remembered?.nv ?? null;
    this.pending =
      write &&
      (remembered === null || remembered.legacy || remembered.id === null || remembered.spec !== spec);
  }

  /** The store id, or null for a read-only look at a directory that has none. */
  get storeId(): Uint8Array | null {
    return this.id === null ? null : Buffer.from(this.id, "hex");
  }

  /** Whether a record was ever committed to this store. */
  get wasCommitted(): boolean {
    return this.committed;
  }

  /** The key store.json says seals the store, and a change of key under way. */
  get sealing(): { readonly key: SealingKeyRef | null; readonly pending: PendingSealing | null } {
    return { key: this.sealingKey, pending: this.sealingChange };
  }

  /** Remembers the sealing key (and a change under way) durably, before anything depends on it. */
  rememberSealing(key: SealingKeyRef | null, pending: PendingSealing | null): void {
    if (!this.write) throw new Error("a read-only store remembers nothing");
    this.sealingKey = key;
    this.sealingChange = pending;
    this.save();
  }

  /** A TPM store's counter and audit key indices, as recorded (null: nothing recorded). */
  get nv(): NvPlacesRecord | null {
    return this.nvPlaces;
  }

  /** Records them durably, before either is used (storage/tpm/nv-places.ts). */
  rememberNv(nv: NvPlacesRecord): void {
    if (!this.write) throw new Error("a read-only store remembers nothing");
    this.nvPlaces = nv;
    this.save();
  }

  /** Writes what is new, if the directory was there at open: after the place read as this store's. */
  settle(): void {
    if (this.pending && this.existed) this.save();
  }

  /** Before a commit: the record will carry the store id, so the directory must know it first. */
  beforeCommit(): void {
    if (this.pending) this.save();
  }

  /** After a commit: from now on a backend holding no record has lost it. Best effort. */
  afterCommit(): void {
    if (this.committed || !this.tracksCommits) return;
    this.committed = true;
    this.pending = this.write;
    try {
      // The commit saved store.json before it: the directory is there now, whenever it was made.
      this.beforeCommit();
    } catch {}
  }

  /** A file store from before store.json takes the id of the record its own areas hold. */
  adopt(id: Uint8Array): void {
    this.id = Buffer.from(id).toString("hex");
    this.pending = this.write;
    try {
      this.settle();
    } catch {}
  }

  private save(): void {
    const id = this.id ?? newStoreId();
    writeStoreFile(this.directory, {
      id,
      backend: this.backend,
      spec: this.spec,
      committed: this.committed,
      sealing: this.sealingKey,
      pending: this.sealingChange,
      nv: this.nvPlaces,
    });
    this.id = id;
    this.pending = false;
  }
}

/**
 * The store as the element sees it: reads refuse to pass a store whose backend lost its records
 * off as a new one, commits keep store.json up to date (and move a new store's lock from its parent
 * onto it, docs/spec.md §5.5), and close() releases everything the opener opened for it (area,
 * connection, directory lock).
 */
export function rememberingStore(
  store: IdentifierStore,
  memory: StoreMemory,
  lock: { release(): Promise<void>; settle(): Promise<void> },
): IdentifierStore {
  const found = async () => {
    const info = await store.info();
    // Epoch 0 is a backend that holds no record at all (every commit counts): after one, it lost it.
    if (memory.wasCommitted && info.epoch === 0) {
      throw new StorageError(
        `store ${store.directory} held an identifier in ${store.description}, which no longer holds either of its areas (removed outside reid); the identifier is gone: to start again, remove ${join(store.directory, STORE_FILE)} and run 'reid init'`,
        "store-lost",
      );
    }
    memory.settle();
    await store.sealing?.settle();
    return info;
  };
  return {
    directory: store.directory,
    description: store.description,
    capacity: store.capacity,
    get sealingKeyId() {
      return store.sealingKeyId;
    },
    ...(store.sealing ? { sealing: store.sealing } : {}),
    info: found,
    load: async (options) => {
      await found();
      return store.load(options);
    },
    journalCapacity: store.journalCapacity,
    journal: async () => {
      await found();
      return store.journal();
    },
    commit: async (next, options) => {
      // The store's own checks first (another store's record, a corrupt one): a refused commit
      // leaves no store.json behind in a directory that had none.
      await store.info();
      memory.beforeCommit();
      const stored = await store.commit(next, options);
      memory.afterCommit();
      store.sealing?.committed(stored.sealed);
      // The commit made the store if it was not there: a writer that held the parent moves onto it.
      await lock.settle().catch(() => undefined);
      return stored;
    },
    close: async () => {
      try {
        await store.close();
      } finally {
        await lock.release();
      }
    },
  };
}
