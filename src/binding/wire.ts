/**
 * The binding protocol's version, sent in every message; another one is refused, naming both.
 * v2: a bind needs the owner's setup code (its request carries `proof`, a MAC keyed by the code,
 * instead of v1's `pop`), and its result carries a `mac` instead of the device's signature.
 * v3: the same messages; the proof and the result are keyed by HKDF's extract itself, not by two
 * keys expanded from it (bind-keys.ts), so a v2 proof does not pass a v3 device, nor the reverse.
 * Specified in docs/spec.md §7.2.
 */
export const PROTOCOL = 3;

/**
 * The bytes a signature or MAC covers: a label naming what is signed, then each part with its
 * length (4 bytes, big-endian) in front. Labels keep a signature for one step from passing as
 * another's; lengths keep two different lists of parts from encoding the same.
 * Specified in docs/spec.md §7.2.
 */
export function signedBytes(label: string, ...parts: readonly (Uint8Array | string)[]): Uint8Array {
  // Sized first and written in place, each string encoded once: every bind and command makes
  // several of these.
  let size = label.length + 1 + 4 * parts.length;
  for (const part of parts) size += typeof part === "string" ? Buffer.byteLength(part) : part.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(label, 0, "latin1");
  out[at++] = 0;
  for (const part of parts) {
    const start = at;
    at += 4;
    if (typeof part === "string") at += out.write(part, at, "utf8");
    else {
      out.set(part, at);
      at += part.length;
    }
    out.writeUInt32BE(at - start - 4, start);
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}
