import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces a small file whole and durably: written aside (0600), synced, renamed over, and the
 * directory synced so the rename itself survives power loss. Readers see the old file or the new
 * one, never a mix. Throws the OS error; the caller says what failed.
 */
export function replaceFile(path: string, content: string, options: { syncDirectory?: boolean } = {}): void {
  const directory = dirname(path);
  const temporary = `${path}.tmp`;
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  if (options.syncDirectory ?? true) syncDirectory(directory);
}

/**
 * Creates `directory` and whichever of its parents are missing, each 0700, and makes the new
 * entries durable (each new directory's parent is synced). One level at a time, not mkdirSync's
 * recursive mode: that one reports ENOENT for errors it does not know, such as EROFS, and the user
 * would be told the wrong reason. Returns the topmost directory created, if any; throws the OS error.
 */
export function makeDirectories(directory: string): string | undefined {
  const missing: string[] = [];
  for (let dir = directory; !directoryExists(dir); dir = dirname(dir)) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !directoryExists(dir)) throw error;
    }
  }
  for (const dir of missing) syncDirectory(dirname(dir));
  return missing[0];
}

/** Whether `path` is a directory; false when nothing is there; throws for anything else. */
export function directoryExists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** fsync of a directory: a rename, creation or removal in it survives power loss. */
export function syncDirectory(directory: string): void {
  const fd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file's text, or null when it does not exist. */
export function readOptionalFile(path: string): string | null {
  // Absent is the common case for some (no owner PIN yet, read on every owner operation): a stat
  // that does not throw says so without the tens of µs of a failed read's exception.
  if (!statSync(path, { throwIfNoEntry: false })) return null;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
