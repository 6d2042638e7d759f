import type { ElementTpm } from "../element/element.js";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { readSecretFile } from "./key-file.js";

/** TPM2B_AUTH holds at most a SHA-512 digest's worth. */
const MAX_OWNER_AUTH = 64;

/**
 * The TPM the context names, with the owner's password read from its file (the raw bytes, less one
 * trailing newline, as `tpm2_changeauth -c o file:...` takes them); null for the file backend.
 */
export function elementTpm(context: CliContext): ElementTpm | null {
  const spec = context.tpm;
  if (!spec) return null;
  if (!spec.ownerAuthFile) return { spec };
  const bytes = readSecretFile(spec.ownerAuthFile, "TPM owner password file", MAX_OWNER_AUTH + 1);
  const length = bytes.at(-1) === 0x0a ? bytes.length - 1 : bytes.length;
  const ownerAuth = bytes.slice(0, length);
  bytes.fill(0);
  if (ownerAuth.length > MAX_OWNER_AUTH) {
    ownerAuth.fill(0);
    throw new UsageError(
      `TPM owner password file ${spec.ownerAuthFile} holds more than ${MAX_OWNER_AUTH} bytes`,
      "bad-key-file",
    );
  }
  return { spec, ownerAuth };
}
