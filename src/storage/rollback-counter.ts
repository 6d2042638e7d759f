import { StorageError } from "../errors.js";

/**
 * Where a store keeps the highest epoch it committed, apart from the areas, so an old record
 * written back over a newer one (a copied area file, an old NV index or token object) is refused
 * instead of read. The epoch, not the generation: every commit moves it (an erase too, which
 * keeps the generation), and a sealed record binds it (docs/spec.md §5.4).
 *
 * The dual-area store raises it after the new record is durable and before the old one goes, so a
 * crash leaves it at the old epoch or the new one, never above the record in force: a record newer
 * than the counter is a commit the counter did not catch up with, which the next commit raises.
 * Specified in docs/spec.md §5.3 and §5.10.
 */
export interface RollbackCounter {
  /** What and where it is, for messages ("NV counter 0x01524502 on swtpm:..."). */
  readonly description: string;
  /**
   * The highest epoch committed, as this place knows it; null when it keeps none yet (a store from
   * before counters, or one whose copy a crash or an editor left unreadable, where that cannot be
   * told from a new one). Throws store-rolled-back when the place says a counter was made and it
   * is gone.
   */
  highest(): Promise<number | null>;
  /** Raises it to `epoch` at least, durably; never lowers it. */
  advance(epoch: number): Promise<void>;
  /**
   * Before a store's first commit (no area holds a record, so nothing can be rolled back to):
   * makes the highest epoch `epoch`, even if it was higher (a TPM or token reused by a new store).
   */
  restart(epoch: number): Promise<void>;
}

/** The refusal of a record older than what the store committed. */
export function rolledBack(location: string, found: number, highest: number, counter: string): StorageError {
  return new StorageError(
    `store ${location} was rolled back: its record is of commit ${found}, but ${counter} says commit ${highest} was made; an older record was written back over the newer one, so it is not used (restore the newer areas, or erase the store and start again)`,
    "store-rolled-back",
  );
}

/** The refusal of a store whose counter was made and is gone. */
export function counterGone(location: string, counter: string): StorageError {
  return new StorageError(
    `store ${location} keeps a rollback counter (${counter}), and it is gone: its records cannot be told from older ones written back, so they are not used (erase the store and start again)`,
    "store-rolled-back",
  );
}
