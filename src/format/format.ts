import { UsageError } from "../errors.js";

/**
 * The processing unit's data-processing result (claims 10, 11, 23): the random information as
 * is (`raw`), or sampled without bias into N decimal digits or N base32 characters. A format's
 * canonical bytes are what the storage area holds and what derivation reads.
 * Specified in docs/spec.md §3.5.
 */
export type FormatKind = "raw" | "digits" | "base32";

export interface IdentifierFormat {
  readonly kind: FormatKind;
  /** Bytes for raw, characters for digits and base32; also the canonical byte length. */
  readonly length: number;
}

/** The identifier is a root secret: no format may hold fewer than this many bits of entropy. */
export const MIN_ENTROPY_BITS = 128;
export const DEFAULT_RAW_LENGTH = 32;

const ALPHABETS: Record<Exclude<FormatKind, "raw">, string> = {
  digits: "0123456789",
  base32: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
};

export function bitsPerSymbol(kind: FormatKind): number {
  return kind === "raw" ? 8 : Math.log2(ALPHABETS[kind].length);
}

/** The shortest length of `kind` that carries MIN_ENTROPY_BITS. */
export function minimumLength(kind: FormatKind): number {
  return Math.ceil(MIN_ENTROPY_BITS / bitsPerSymbol(kind));
}

/** The format used when none was ever chosen: 32 raw bytes, or fewer if the area is smaller. */
export function defaultFormat(capacity: number): IdentifierFormat {
  return { kind: "raw", length: Math.min(DEFAULT_RAW_LENGTH, capacity) };
}

/**
 * Parses `raw[:N]`, `digits[:N]`, `base32[:N]`. Without N, raw takes 32 bytes and the text
 * formats take as many characters as the storage area holds (claim 11).
 */
export function parseFormat(text: string, capacity: number): IdentifierFormat {
  const match = /^(raw|digits|base32)(?::(\d{1,6}))?$/.exec(text);
  if (!match) {
    throw new UsageError(`bad --format '${text}': expected raw[:N], digits[:N] or base32[:N]`);
  }
  const kind = match[1] as FormatKind;
  const length = match[2] === undefined ? defaultLength(kind, capacity) : Number(match[2]);
  const minimum = minimumLength(kind);
  if (length < minimum || length > capacity) {
    throw new UsageError(
      `bad --format '${text}': N must be in ${minimum}..${capacity} (at least ${MIN_ENTROPY_BITS} bits, at most what the storage area holds)`,
    );
  }
  return { kind, length };
}

export function formatName(format: IdentifierFormat): string {
  return `${format.kind}:${format.length}`;
}

function defaultLength(kind: FormatKind, capacity: number): number {
  return kind === "raw" ? Math.min(DEFAULT_RAW_LENGTH, capacity) : capacity;
}

/** Serves random bytes, each at most once (the FIFO). */
export type ReadRandom = (length: number) => Promise<Uint8Array>;

/** Turns random information into an identifier of `format`; the caller owns (and zeroes) the result. */
export async function processRandom(format: IdentifierFormat, read: ReadRandom): Promise<Uint8Array> {
  if (format.kind === "raw") return read(format.length);
  return sampleSymbols(ALPHABETS[format.kind], format.length, read);
}

/**
 * Unbiased rejection sampling: a byte maps to symbol `b mod k` only when `b` lies below the
 * largest multiple of k that fits in a byte; other bytes are thrown away, not folded back.
 */
export async function sampleSymbols(alphabet: string, count: number, read: ReadRandom): Promise<Uint8Array> {
  const k = alphabet.length;
  const limit = 256 - (256 % k);
  const out = new Uint8Array(count);
  let filled = 0;
  while (filled < count) {
    const missing = count - filled;
    // Ask for the expected need plus a margin, so one round almost always suffices.
    const batch = await read(Math.ceil((missing * 256) / limit) + 4);
    for (const b of batch) {
      if (filled === count) break;
      if (b < limit) out[filled++] = alphabet.charCodeAt(b % k);
    }
    batch.fill(0);
  }
  return out;
}
