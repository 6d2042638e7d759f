import { StorageError } from "../errors.js";
import type { IdentifierRecord, RecordInfo, StoredRecord } from "./record.js";
import type { SealingControl } from "./sealing/control.js";

/**
 * The element's storage area as the control and processing units see it: the newest committed
 * record, and commits that are all-or-nothing across crashes. Every backend is held to
 * test/storage/conformance.ts.
 */
export interface IdentifierStore {
  /**
   * The store directory: everything kept beside the identifier (audit log, PIN, schedule,
   * bindings, the daemon's socket) is written here, whichever backend holds the areas.
   */
  readonly directory: string;
  /** Where the areas are, for status and messages only ("swtpm:..., NV 0x01524500"); never a path. */
  readonly description: string;
  /** The longest identifier, in bytes, the storage area holds. */
  readonly capacity: number;
  /** The id of the key-encryption key the store seals with (a short hash), or null without one. */
  readonly sealingKeyId: string | null;
  /**
   * Bytes of audit log lines a commit can carry beside its record in the same durable write
   * (CommitOptions.journal); 0 when the backend keeps none.
   */
  readonly journalCapacity: number;
  /**
   * The newest committed record without its identifier. A store holds its writer lock from open to
   * close, so after the first read it may answer from what it last read or committed.
   */
  info(): Promise<RecordInfo>;
  /**
   * The newest committed record with its identifier, read from the storage area (the caller zeroes
   * the identifier); blank generation 0 when nothing was ever committed. A sealed store needs its
   * key; a store opened with a key refuses an unsealed identifier unless asked to accept it.
   */
  load(options?: LoadOptions): Promise<StoredRecord>;
  /**
   * Makes `next` durable, and only then erases the record it supersedes. Throws a StorageError
   * and leaves the previous record in force when `next` could not be made durable; throws an
   * EraseIncompleteError when `next` is in force but the superseded record could not be erased.
   */
  commit(next: IdentifierRecord, options?: CommitOptions): Promise<StoredRecord>;
  /**
   * The audit log lines the record in force carried when the store was read (null: none), for the
   * log to take back what a crash kept from it (docs/spec.md §9.3).
   */
  journal(): Promise<Uint8Array | null>;
  /** Releases the writer lock; the store object is unusable afterwards. */
  close(): Promise<void>;
  /** Changes of sealing key (seal --key, --rotate, unseal); absent on a store opened without them. */
  readonly sealing?: SealingControl;
}

export interface CommitOptions {
  /**
   * The audit log's lines not yet known durable in the log, the commit's intent last (at most
   * journalCapacity bytes), made durable in the same write as the record (docs/spec.md §9.3).
   */
  readonly journal?: Uint8Array;
}

export interface LoadOptions {
  /** Accept an identifier stored in clear although a key-encryption key is configured (to seal it). */
  readonly acceptUnsealed?: boolean;
}

/**
 * The new record is committed, but the one it superseded could not be overwritten: the request
 * happened, its secret-destroying half did not. Writers retry the erasure when they next open the
 * store. Surfaces report the committed state together with the failure.
 */
export class EraseIncompleteError extends StorageError {
  constructor(
    readonly committed: RecordInfo,
    cause: string,
  ) {
    const done =
      committed.state === "set"
        ? `generation ${committed.generation} is in force, but the identifier it replaced`
        : "the element is blank, but the erased identifier";
    super(`${done} could not be overwritten (${cause}); the next request retries`, "erase-incomplete");
  }
}

/**
 * What a store's areas can say of themselves (they read, but cannot serve), which the operations
 * that need the store report: a long-lived open or a step before the operation leaves them be.
 */
export const AREA_VERDICTS: ReadonlySet<string> = new Set([
  "store-corrupt",
  "store-foreign",
  "store-key-missing",
  "store-key-wrong",
  "store-not-sealed",
  "store-rolled-back",
]);
