import { UsageError } from "../errors.js";
import { readSecretFile } from "../storage/secret-file.js";

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
