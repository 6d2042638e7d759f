import { closeSync, constants, fstatSync, openSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { makeDirectories } from "./durable-file.js";
import { type Flock, tryFlock } from "./flock.js";
import { type ProcessLock, waitForLock } from "./process-lock.js";

/**
 * Takes the store directory's lock: one element per store, whatever backend holds the identifier,
 * since the audit log, the owner's PIN and the schedule live in the directory. It is a flock(2) on
 * the directory itself, so it holds wherever the same directory is reached from: other network
 * namespaces, bind mounts at other paths, other containers sharing the volume. No file is made for
 * it, so a read-only mount is locked too, and only who may open the directory (its owner) can
 * take it.
 *
 * A store that does not exist yet has no directory to lock: its parent is locked instead,
 * exclusively by a writer for as long as it holds the store (it makes the store's directory when it
 * first writes), shared by a reader. Whoever locks an existing store then waits for a shared turn
 * on the parent, so it never runs beside a writer that made the directory under the parent's lock.
 * That turn is what another account can hold up (whoever may read the parent can flock it), so
 * stores belong in a directory others cannot read.
 * Specified in docs/spec.md §5.5.
 */
export function lockStoreDirectory(
  location: string,
  options: { readonly timeoutMs: number; readonly write: boolean },
): Promise<ProcessLock> {
  const store = canonical(location);
  const parent = dirname(store);
  // A writer's parent must exist to be locked; made here (0700, synced), it is left behind.
  if (options.write && !exists(store)) createParent(location, parent);
  return waitForLock((flock) => attempt(flock, location, store, parent, options.write), {
    timeoutMs: options.timeoutMs,
    what: `store ${location}`,
  });
}

function attempt(
  flock: Flock,
  location: string,
  store: string,
  parent: string,
  write: boolean,
): number[] | null {
  const fd = openDirectory(location, store);
  if (fd !== null) {
    if (!lockOrClose(flock, fd, false)) return null;
    try {
      // Moved or removed while we waited: try again from the path.
      if (!sameFile(fd, store)) return close(fd);
      const turn = parent === store ? null : openDirectory(location, parent, true);
      if (turn === null) return [fd];
      if (!lockOrClose(flock, turn, true)) return close(fd);
      closeSync(turn);
      return [fd];
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }
  const turn = openDirectory(location, parent);
  // No parent either: nothing to read, and a reader has nothing to guard.
  if (turn === null) return write ? null : [];
  if (!lockOrClose(flock, turn, !write)) return null;
  // Made while we waited for the parent: lock the store itself instead.
  if (exists(store)) return close(turn);
  return [turn];
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
