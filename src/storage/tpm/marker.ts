import { join } from "node:path";
import { describeOsError, StorageError } from "../../errors.js";
import { readOptionalFile, replaceFile } from "../durable-file.js";

/**
 * A store whose identifier lives in a TPM remembers which TPM and index in this file, so later
 * commands (and the daemon) find it without --tpm, and a store never silently reads as blank
 * because the option was forgotten. Once a record was committed it says so too: a TPM that then
 * holds none of the store's indices (TPM2_Clear, tpm2_nvundefine) lost it, which is an error, not
 * a store that was never used (whose generations would start again at 1).
 */
export const TPM_MARKER = "tpm";
const COMMITTED = "committed";

export interface TpmMarker {
  /** The --tpm spec, every parameter spelled out. */
  readonly spec: string;
  readonly committed: boolean;
}

export function readTpmMarker(storeDirectory: string): TpmMarker | null {
  let text: string | null;
  try {
    text = readOptionalFile(join(storeDirectory, TPM_MARKER));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StorageError(`cannot read ${join(storeDirectory, TPM_MARKER)}: ${describeOsError(error)}`);
  }
  if (text === null) return null;
  const [spec = "", ...rest] = text.split("\n").map((line) => line.trim());
  return { spec, committed: rest.includes(COMMITTED) };
}

export function writeTpmMarker(storeDirectory: string, marker: TpmMarker): void {
  try {
    replaceFile(
      join(storeDirectory, TPM_MARKER),
      `${marker.spec}\n${marker.committed ? `${COMMITTED}\n` : ""}`,
    );
  } catch (error) {
    throw new StorageError(`cannot write ${join(storeDirectory, TPM_MARKER)}: ${describeOsError(error)}`);
  }
}
