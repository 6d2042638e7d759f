import type { Credentials } from "../auth/actor.js";
import { AuthError } from "../errors.js";

/**
 * A read of the record for whoever gave `credentials`: when the TPM keeps it under the owner PIN's
 * authorization and none is held yet, `prove` checks the PIN they gave (counted as every try), then
 * the read runs again; without a PIN, `pin-required` (docs/spec.md §5.7). The composed element
 * (ControlUnit.readAs) and the status read of a store no daemon serves (status-read.ts) read so.
 */
export async function readProven<T>(
  credentials: Credentials | undefined,
  read: () => Promise<T>,
  prove: () => Promise<void>,
): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof AuthError && error.code === "pin-required") || !credentials?.pin) throw error;
    await prove();
    return read();
  }
}
