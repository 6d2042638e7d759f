import { UsageError } from "../errors.js";

const UNITS: Record<string, number> = {
  "": 1,
  K: 2 ** 10,
  KiB: 2 ** 10,
  M: 2 ** 20,
  MiB: 2 ** 20,
  G: 2 ** 30,
  GiB: 2 ** 30,
};
export const MAX_BYTE_COUNT = 2 ** 50;

/** "4096", "4K", "4MiB", "1G": binary units, whole positive counts only. */
export function parseByteCount(text: string, option: string): number {
  const match = /^(\d{1,16})(K|KiB|M|MiB|G|GiB)?$/.exec(text);
  const count = match ? Number(match[1]) * (UNITS[match[2] ?? ""] ?? Number.NaN) : Number.NaN;
  if (!(count >= 1 && count <= MAX_BYTE_COUNT)) {
    throw new UsageError(
      `bad ${option} '${text}': expected a whole number of bytes from 1 to 2^50, optionally with K, M or G (binary units)`,
    );
  }
  return count;
}
