import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { describeOsError, UsageError } from "../errors.js";

/**
 * Reads a key file that must hold exactly `length` raw bytes and be private to its owner. Every
 * problem is a usage error naming the file and what is wrong with it; the key itself is never shown.
 */
export function readKeyFile(path: string, what: string, length = 32): Uint8Array {
  let fd: number;
  try {
    // Non-blocking: a FIFO with no writer would otherwise hang the open; it is refused below as
    // not a regular file. Regular files read the same either way.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${describeOsError(error)}`, "bad-key-file");
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new UsageError(`${what} ${path} is not a regular file`, "bad-key-file");
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
      throw new UsageError(
        `${what} ${path} is readable by other users (mode ${mode}); run: chmod 600 ${path}`,
        "bad-key-file",
      );
    }
    if (stats.size !== length) {
      throw new UsageError(
        `${what} ${path} has ${stats.size} bytes; it must hold exactly ${length} raw bytes`,
        "bad-key-file",
      );
    }
    const key = new Uint8Array(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, key, read, length - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read !== length) {
      key.fill(0);
      throw new UsageError(`${what} ${path} changed while it was read`, "bad-key-file");
    }
    return key;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${what} ${path}: ${describeOsError(error)}`, "bad-key-file");
  } finally {
    closeSync(fd);
  }
}
