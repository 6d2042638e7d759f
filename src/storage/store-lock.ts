import { closeSync, constants, fstatSync, openSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { makeDirectories } from "./durable-file.js";
import { type Flock, loadFlock, tryFlock } from "./flock.js";
import { type ProcessLock, waitFor } from "./process-lock.js";

/** The store directory's lock, held until released. */
export interface StoreLock extends ProcessLock {
  /**
   * A writer that locked the parent of a store not made yet moves onto the store's own lock once
   * the store exists (after its first commit): the store's lock is taken before the parent's is let
   * go, so no other writer gets in between, and other stores in the same parent are free again.
   * Nothing happens when the lock is already the store's, or the store is not there. Best effort:
   * if the store's lock cannot be had at once, the parent's stays held, which still excludes all.
   */
  settle(): Promise<void>;
}

/** How long a writer moving onto its store's lock retries: only a passing try can hold it then. */
const SETTLE_RETRY_MS = 1_000;

/** What an attempt holds: the store's directory, its parent (a store not made yet), or nothing. */
interface Held {
  readonly fd: number | null;
  readonly onParent: boolean;
  readonly exclusive: boolean;
}

/**
 * Takes the store directory's lock: one element per store, whatever backend holds the identifier,
 * since the audit log, the owner's PIN and the schedule live in the directory. It is a flock(2) on
 * the directory itself, so it holds wherever the same directory is reached from: other network
 * namespaces, bind mounts at other paths, other containers sharing the volume. No file is made for
 * it, so a read-only mount is locked too, and only who may open the directory (its owner) can
 * take it.
 *
 * A store that does not exist yet has no directory to lock: its parent is locked instead,
 * exclusively by a writer until the store exists (it makes the store's directory when it first
 * writes, then moves onto the store's own lock: settle()), shared by a reader. Whoever locks an
 * existing store then waits for a shared turn on the parent, so it never runs beside a writer that
 * made the directory under the parent's lock and has not moved yet. That turn is what another
 * account can hold up (whoever may read the parent can flock it), so stores belong in a directory
 * others cannot read.
 * Specified in docs/spec.md §5.5.
 */
export async function lockStoreDirectory(
  location: string,
  options: { readonly timeoutMs: number; readonly write: boolean },
): Promise<StoreLock> {
  const store = canonical(location);
  const parent = dirname(store);
  // A writer's parent must exist to be locked; made here (0700, synced), it is left behind.
  if (options.write && !exists(store)) createParent(location, parent);
  const held = await waitFor((flock) => attempt(flock, location, store, parent, options.write), {
    timeoutMs: options.timeoutMs,
    what: `store ${location}`,
  });
  return new HeldStoreLock(held, location, store);
}

class HeldStoreLock implements StoreLock {
  constructor(
    private held: Held | null,
    private readonly location: string,
    private readonly store: string,
  ) {}

  async release(): Promise<void> {
    const fd = this.held?.fd ?? null;
    this.held = null;
    if (fd !== null) closeSync(fd);
  }

  async settle(): Promise<void> {
    // Only a writer holds a parent exclusively; a reader's shared hold has nothing to move to.
    if (!this.held?.onParent || !this.held.exclusive) return;
    const fd = await lockMadeStore(this.location, this.store);
    if (fd === null) return;
    const parent = this.held?.fd ?? null;
    // Released while we waited: the store's lock goes with it.
    if (parent === null) return void closeSync(fd);
    // The store's lock is held: only now may the parent's go.
    this.held = { fd, onParent: false, exclusive: true };
    closeSync(parent);
  }
}

/**
 * The store's own lock for a writer that holds its parent's, once the store exists, or null (not
 * there, another directory in its place, or held beyond SETTLE_RETRY_MS). While the parent is held
 * exclusively nobody can hold the store for longer than a try: whoever locks an existing store
 * lets go of it again when the parent's shared turn is refused.
 */
async function lockMadeStore(location: string, store: string): Promise<number | null> {
  const flock = loadFlock();
  const deadline = Date.now() + SETTLE_RETRY_MS;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    const fd = openDirectory(location, store);
    if (fd === null) return null;
    if (lockOrClose(flock, fd, false)) return sameFile(fd, store) ? fd : close(fd);
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function attempt(flock: Flock, location: string, store: string, parent: string, write: boolean): Held | null {
  const fd = openDirectory(location, store);
  if (fd !== null) {
    if (!lockOrClose(flock, fd, false)) return null;
    try {
      // Moved or removed while we waited: try again from the path.
      if (!sameFile(fd, store)) return close(fd);
      const turn = parent === store ? null : openDirectory(location, parent, true);
      if (turn === null) return { fd, onParent: false, exclusive: true };
      if (!lockOrClose(flock, turn, true)) return close(fd);
      closeSync(turn);
      return { fd, onParent: false, exclusive: true };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }
  const turn = openDirectory(location, parent);
  // No parent either: nothing to read, and a reader has nothing to guard.
  if (turn === null) return write ? null : { fd: null, onParent: false, exclusive: false };
  if (!lockOrClose(flock, turn, !write)) return null;
  // Made while we waited for the parent (its writer has moved onto it): lock the store itself instead.
  if (exists(store)) return close(turn);
  return { fd: turn, onParent: true, exclusive: write };
}

/** An fd on the directory, or null when it is missing (or, for a parent's turn, unreadable). */
function openDirectory(location: string, path: string, mayBeUnreadable = false): number | null {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    // Whoever may not read the parent cannot have locked it either.
    if (mayBeUnreadable && code === "EACCES") return null;
    if (code === "ENOTDIR" && exists(path)) throw new StorageError(`store ${location} is not a directory`);
    throw new StorageError(`cannot open store ${location}: ${describeOsError(error)}`);
  }
}

function lockOrClose(flock: Flock, fd: number, shared: boolean): boolean {
  try {
    if (tryFlock(flock, fd, shared)) return true;
  } catch (error) {
    closeSync(fd);
    throw new StorageError(`cannot take the store lock: ${describeOsError(error)}`);
  }
  closeSync(fd);
  return false;
}

function close(fd: number): null {
  closeSync(fd);
  return null;
}

function sameFile(fd: number, path: string): boolean {
  try {
    const held = fstatSync(fd);
    const now = statSync(path);
    return held.ino === now.ino && held.dev === now.dev;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    return true;
  }
}

function createParent(location: string, parent: string): void {
  try {
    makeDirectories(parent);
  } catch (error) {
    throw new StorageError(`cannot create store ${location}: ${describeOsError(error)}`);
  }
}

/** The directory's real path (symlinks resolved), so its parent is the real one however it is spelled. */
function canonical(location: string): string {
  try {
    return realpathSync(location);
  } catch {
    try {
      return join(realpathSync(dirname(location)), basename(location));
    } catch {
      return location;
    }
  }
}
