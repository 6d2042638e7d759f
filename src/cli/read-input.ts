import { readFileSync, statSync } from "node:fs";
import { describeOsError, UsageError } from "../errors.js";

/** Files signed or verified are read whole (Ed25519 signs the message itself); this caps them. */
export const MAX_INPUT = 256 * 2 ** 20;

/**
 * Reads a regular file named on the command line; a missing, unreadable, oversized or special one
 * (a FIFO would block forever) is a usage error.
 */
export function readInput(path: string, what: string): Buffer {
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw new UsageError(`${what} ${path} is not a regular file`);
    const size = stats.size;
    if (size > MAX_INPUT) {
      throw new UsageError(`${what} ${path} has ${size} bytes; at most ${MAX_INPUT} are accepted`);
    }
    return readFileSync(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${what} ${path}: ${describeOsError(error)}`);
  }
}
