import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "./durable-file.js";

/** In the store directory: that the place keeps a counter for this store, and its offset. */
export const COUNTER_BASE_FILE = "rollback.json";

/**
 * What the store directory remembers of a counter kept in a TPM or token: that one was made (so
 * one that is gone is told from a store made before counters), and the base, the counter's value
 * less the highest committed epoch. A TPM counter starts where the TPM says (at least the highest
 * any of its counters ever held) and moves by one, so the base ties its value to the epoch:
 * `{"v":1,"base":"DECIMAL"}`, replaced durably, written rarely (when a counter is made or a store
 * starts again). Specified in docs/spec.md §5.10.
 */
export function readCounterBase(directory: string): bigint | null {
  const path = join(directory, COUNTER_BASE_FILE);
  let text: string | null;
  try {
    text = readOptionalFile(path);
  } catch (error) {
    throw new StorageError(`cannot read ${path}: ${describeOsError(error)}`);
  }
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as { v?: unknown; base?: unknown };
    if (parsed.v === 1 && typeof parsed.base === "string" && /^-?[0-9]{1,20}$/.test(parsed.base)) {
      return BigInt(parsed.base);
    }
  } catch {}
  throw new StorageError(`${path} is corrupt: it is not {"v":1,"base":"DECIMAL"}`, "store-corrupt");
}

export function writeCounterBase(directory: string, base: bigint): void {
  const path = join(directory, COUNTER_BASE_FILE);
  try {
    replaceFile(path, `${JSON.stringify({ v: 1, base: base.toString() })}\n`);
  } catch (error) {
    throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
  }
}
