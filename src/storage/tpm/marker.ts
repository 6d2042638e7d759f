import { join } from "node:path";
import { describeOsError, StorageError } from "../../errors.js";
import { readOptionalFile, replaceFile } from "../durable-file.js";

/**
 * A store whose identifier lives in a TPM remembers which TPM and index in this file, so later
 * commands (and the daemon) find it without --tpm, and a store never silently reads as blank
 * because the option was forgotten.
 */
export const TPM_MARKER = "tpm";

export function readTpmMarker(storeDirectory: string): string | null {
  let text: string | null;
  try {
    text = readOptionalFile(join(storeDirectory, TPM_MARKER));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StorageError(`cannot read ${join(storeDirectory, TPM_MARKER)}: ${describeOsError(error)}`);
  }
  return text === null ? null : text.trim();
}

export function writeTpmMarker(storeDirectory: string, spec: string): void {
  try {
    replaceFile(join(storeDirectory, TPM_MARKER), `${spec}\n`);
  } catch (error) {
    throw new StorageError(`cannot write ${join(storeDirectory, TPM_MARKER)}: ${describeOsError(error)}`);
  }
}
