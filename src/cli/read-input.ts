import { readFileSync, statSync } from "node:fs";
import { describeOsError, UsageError } from "../errors.js";

/** Files signed or verified are read whole (Ed25519 signs the message itself); this caps them. */
export const MAX_INPUT = 256 * 2 ** 20;

/** Reads a file named on the command line; a missing, unreadable or oversized one is a usage error. */
export function readInput(path: string, what: string): Buffer {
  try {
    const size = statSync(path).size;
    if (size > MAX_INPUT) {
      throw new UsageError(`${what} ${path} has ${size} bytes; at most ${MAX_INPUT} are accepted`);
    }
    return readFileSync(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${what} ${path}: ${describeOsError(error)}`);
  }
}
