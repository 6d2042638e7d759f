import { realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { acquireProcessLock, type ProcessLock } from "./process-lock.js";

/**
 * Takes the store directory's writer lock: one element per store, whichever backend holds the
 * identifier, since the audit log, the owner's PIN and the schedule live in the directory.
 */
export function lockStoreDirectory(location: string, timeoutMs: number): Promise<ProcessLock> {
  return acquireProcessLock(canonical(location), { timeoutMs, what: `store ${location}` });
}

/** Refuses a store path that is not a directory, or a directory other users can enter; a missing one is fine. */
export function checkStoreDirectory(location: string): void {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(location);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new StorageError(`cannot open store ${location}: ${describeOsError(error)}`);
  }
  if (!stats.isDirectory()) throw new StorageError(`store ${location} is not a directory`);
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
    throw new StorageError(
      `store ${location} is open to other users (mode ${mode}); run: chmod 700 ${location}`,
      "store-permissions",
    );
  }
}

/** The same directory, however it is spelled (symlinks, relative paths), locks under one key. */
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
