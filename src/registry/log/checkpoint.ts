import { HASH_SIZE } from "./hash.js";
import { logUntrusted } from "./log-errors.js";

/**
 * A checkpoint of the identity log in the C2SP tlog-checkpoint text form: the origin line (the
 * registry's name), the tree size in decimal, the root hash in base64, then one extension line
 * `time ISO-8601` saying when the registry signed it (docs/spec.md §10.12). Signed as a note
 * (note.ts).
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** `Date.toISOString()` form. */
  readonly time: string;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TIME_LINE = "time ";

export function checkpointText(checkpoint: Checkpoint): string {
  const { origin, size, root, time } = checkpoint;
  if (!validOrigin(origin)) throw new Error("a checkpoint origin must be one line of printable text");
  if (!Number.isSafeInteger(size) || size < 0) throw new Error("a checkpoint size must be a count");
  if (root.length !== HASH_SIZE) throw new Error("a checkpoint root must be a SHA-256 hash");
  if (!ISO_TIME.test(time)) throw new Error("a checkpoint time must be in toISOString() form");
  return `${origin}\n${size}\n${Buffer.from(root).toString("base64")}\n${TIME_LINE}${time}\n`;
}

/** The checkpoint a verified note's text holds; anything else in its place is refused. */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split("\n");
  // The text ends in a newline, so the last piece is empty.
  if (lines.length !== 5 || lines[4] !== "") throw logUntrusted("a checkpoint must have four lines");
  const [origin, sizeText, rootText, timeLine] = lines as [string, string, string, string];
  if (!validOrigin(origin)) throw logUntrusted("a checkpoint's origin line is not printable text");
  if (!DECIMAL.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw logUntrusted("a checkpoint's size is not a decimal count");
  }
  const root = BASE64.test(rootText) ? Buffer.from(rootText, "base64") : Buffer.alloc(0);
  if (root.length !== HASH_SIZE || root.toString("base64") !== rootText) {
    throw logUntrusted("a checkpoint's root is not a base64 SHA-256 hash");
  }
  const time = timeLine.startsWith(TIME_LINE) ? timeLine.slice(TIME_LINE.length) : "";
  if (!ISO_TIME.test(time) || Number.isNaN(Date.parse(time))) {
    throw logUntrusted("a checkpoint's time line is not 'time' and an ISO-8601 UTC time");
  }
  return { origin, size: Number(sizeText), root: new Uint8Array(root), time };
}

function validOrigin(origin: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  return origin.length > 0 && origin.length <= 256 && !/[\u0000-\u001f\u007f]/.test(origin);
}
