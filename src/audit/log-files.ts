import { closeSync, constants, openSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError, UsageError } from "../errors.js";
import { syncDirectory } from "../storage/durable-file.js";

// The audit log's files on disk: the live one, the rotated ones, and how they are read in order
// and rotated (docs/spec.md §9.6). The chain over them is AuditLog's.

/** The live log; rotated files are audit.log.1 (the newest) to audit.log.KEEP. */
export const LOG = "audit.log";
/** The log is rotated once it reaches this size (docs/spec.md §9.6); REID_AUDIT_ROTATE_BYTES for tests. */
export const ROTATE_BYTES = 1024 * 1024;
/** Rotated files kept: audit.log.1 (the newest) to audit.log.3; older ones are dropped. */
export const KEEP = 3;

/**
 * Renames the log aside, oldest first (audit.log.2 over audit.log.3, which drops it, then .1 to
 * .2, then audit.log to .1), syncing the directory after each rename, then makes the new log and
 * syncs the directory again. Every record is already durable in its file and each rename is
 * atomic, so a crash anywhere leaves every kept record in a file read in the right order (a
 * number may be missing; the next rotation fills it). Returns the new log, open for appending.
 * docs/spec.md §9.6.
 */
export function rotate(directory: string): number {
  const path = join(directory, LOG);
  for (let n = KEEP - 1; n >= 0; n--) {
    try {
      renameSync(n === 0 ? path : `${path}.${n}`, `${path}.${n + 1}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    syncDirectory(directory);
  }
  const fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
  try {
    syncDirectory(directory);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/** The log's files, oldest first: the rotated ones (highest number first), then audit.log. */
export function logFiles(directory: string): string[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new StorageError(`cannot read the audit log: ${describeOsError(error)}`);
  }
  const rotated = names
    .map((name) => ({ name, n: rotation(name) }))
    .filter(({ n }) => n > 0)
    .sort((a, b) => b.n - a.n)
    .map(({ name }) => name);
  return [...rotated, ...(names.includes(LOG) ? [LOG] : [])];
}

/**
 * Every line of every kept file, oldest first. Bytes after the last newline of audit.log are a
 * record a kill cut short (a write(2) crossing a page may stop between pages): it never counted,
 * and the next append cuts it off (docs/spec.md §9.3), so it is not read as one.
 */
export function logLines(directory: string): string[] {
  return logFiles(directory).flatMap((name) => {
    const lines = fileLines(join(directory, name));
    return (name === LOG ? lines.slice(0, -1) : lines).filter((line) => line !== "");
  });
}

/** The number of a rotated file's name (audit.log.N), or 0 for any other name. */
function rotation(name: string): number {
  const match = /^audit\.log\.([1-9][0-9]{0,5})$/.exec(name);
  return match ? Number(match[1]) : 0;
}

/**
 * A file's text split at its newlines: the last element is what follows the last newline ("" when
 * the file ends with one). None when it is not there (rotated away meanwhile).
 */
export function fileLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new StorageError(`cannot read the audit log: ${describeOsError(error)}`);
  }
  return text === "" ? [] : text.split("\n");
}

/** REID_AUDIT_ROTATE_BYTES (a positive whole number of bytes, for tests), else ROTATE_BYTES. */
export function rotationSize(): number {
  const text = process.env.REID_AUDIT_ROTATE_BYTES;
  if (!text) return ROTATE_BYTES;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(
      `REID_AUDIT_ROTATE_BYTES must be a positive whole number of bytes, not '${text.slice(0, 32)}'`,
    );
  }
  return value;
}
