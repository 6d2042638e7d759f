import { UsageError } from "../errors.js";

/** The binding protocol's version, sent in every message; another one is refused. */
export const PROTOCOL = 1;

/**
 * The bytes a signature or MAC covers: a label naming what is signed, then each part with its
 * length (4 bytes, big-endian) in front. Labels keep a signature for one step from passing as
 * another's; lengths keep two different lists of parts from encoding the same.
 */
export function signedBytes(label: string, ...parts: readonly (Uint8Array | string)[]): Uint8Array {
  const encoded = parts.map((part) => (typeof part === "string" ? Buffer.from(part, "utf8") : part));
  const out = Buffer.alloc(label.length + 1 + encoded.reduce((sum, part) => sum + 4 + part.length, 0));
  let at = out.write(label, 0, "latin1");
  out[at++] = 0;
  for (const part of encoded) {
    at = out.writeUInt32BE(part.length, at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

/** A field of `length` bytes, sent as lowercase or uppercase hex; anything else is a usage error. */
export function bytesField(body: Record<string, unknown>, name: string, length: number): Uint8Array {
  const value = body[name];
  if (typeof value === "string" && value.length === length * 2 && /^[0-9a-fA-F]*$/.test(value)) {
    return Buffer.from(value, "hex");
  }
  throw new UsageError(`'${name}' must be ${length} bytes in hex`);
}

/** A handle: 16 bytes in lowercase hex (SPEC section 4). */
export function handleField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value === "string" && /^[0-9a-f]{32}$/.test(value)) return value;
  throw new UsageError(`'${name}' must be a handle (32 lowercase hex digits)`);
}

/** A whole number from 0 to 2^53 - 1. */
export function countField(body: Record<string, unknown>, name: string): number {
  const value = body[name];
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw new UsageError(`'${name}' must be a whole number`);
}

export function versionField(body: Record<string, unknown>): void {
  if (body.v !== PROTOCOL)
    throw new UsageError(`'v' must be ${PROTOCOL} (this device speaks binding protocol v${PROTOCOL})`);
}
