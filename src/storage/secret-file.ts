import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { describeOsError, UsageError } from "../errors.js";

/**
 * Reads a secret file (a key, a PIN, a recovery code) that must be a regular file private to its
 * owner and at most `maxBytes` long. Every problem is a usage error naming the file and what is
 * wrong with it; the secret itself is never shown.
 */
export function readSecretFile(path: string, what: string, maxBytes: number): Uint8Array {
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
    if (stats.size > maxBytes) {
      throw new UsageError(
        `${what} ${path} has ${stats.size} bytes; at most ${maxBytes} are accepted`,
        "bad-key-file",
      );
    }
    const secret = new Uint8Array(stats.size);
    let read = 0;
    while (read < secret.length) {
      const n = readSync(fd, secret, read, secret.length - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read !== secret.length) {
      secret.fill(0);
      throw new UsageError(`${what} ${path} changed while it was read`, "bad-key-file");
    }
    return secret;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${what} ${path}: ${describeOsError(error)}`, "bad-key-file");
  } finally {
    closeSync(fd);
  }
}

/** A key file that must hold exactly `length` raw bytes. */
export function readKeyFile(path: string, what: string, length = 32): Uint8Array {
  const key = readSecretFile(path, what, 4096);
  if (key.length !== length) {
    key.fill(0);
    throw new UsageError(
      `${what} ${path} has ${key.length} bytes; it must hold exactly ${length} raw bytes`,
      "bad-key-file",
    );
  }
  return key;
}

/** A text secret (a PIN, a recovery code): UTF-8, one trailing line break ignored. */
export function readTextSecret(path: string, what: string): string {
  const bytes = readSecretFile(path, what, 1024);
  const text = Buffer.from(bytes)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  bytes.fill(0);
  return text;
}
