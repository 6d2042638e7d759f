import type { IdentifierRecord, StoredRecord } from "./record.js";

/**
 * The element's storage area as the control and processing units see it: the newest committed
 * record, and commits that are all-or-nothing across crashes. Every backend is held to
 * test/storage/conformance.ts.
 */
export interface IdentifierStore {
  /** Where the store lives, for status and messages. */
  readonly location: string;
  /** The longest identifier, in bytes, the storage area holds. */
  readonly capacity: number;
  /** The newest committed record; blank generation 0 when nothing was ever committed. */
  load(): Promise<StoredRecord>;
  /**
   * Makes `next` durable, and only then erases the record it supersedes. Throws a StorageError
   * and leaves the previous record in force when `next` could not be made durable.
   */
  commit(next: IdentifierRecord): Promise<StoredRecord>;
  /** Releases the writer lock; the store object is unusable afterwards. */
  close(): Promise<void>;
}
