import { createCipheriv, createDecipheriv } from "node:crypto";

/** RFC 5649's alternative initial value; the message length completes it. */
const AIV = Buffer.from("a65959a6", "hex");

/**
 * AES key wrap with padding (RFC 5649): how the identifier may leave the element, wrapped under
 * a key its owner holds. OpenSSL does the work (id-aesNNN-wrap-pad); the key's length picks N.
 */
export function wrapWithPadding(kek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const algorithm = cipherFor(kek);
  // RFC 5649 wraps 1 to 2^32 octets; OpenSSL would turn an empty input into an empty output.
  if (plaintext.length === 0) throw new RangeError("key wrap with padding needs at least one byte to wrap");
  const cipher = createCipheriv(algorithm, kek, AIV);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

/** The inverse; throws when the key is wrong or the bytes were altered (the integrity check fails). */
export function unwrapWithPadding(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  const algorithm = cipherFor(kek);
  // A wrapped key is at least two 64-bit blocks; OpenSSL would "unwrap" an empty input to nothing,
  // with no integrity check at all.
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) {
    throw new Error(`a wrapped key is a multiple of 8 bytes and at least 16, not ${wrapped.length}`);
  }
  try {
    const decipher = createDecipheriv(algorithm, kek, AIV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    // OpenSSL only says "Trying to add data in unsupported state".
    throw new Error("the wrapped key failed its integrity check: wrong key or altered bytes");
  }
}

function cipherFor(kek: Uint8Array): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) {
    throw new RangeError("an AES key-encryption key is 16, 24 or 32 bytes");
  }
  return `id-aes${kek.length * 8}-wrap-pad`;
}
