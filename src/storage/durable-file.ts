import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
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
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
