import { createCipheriv, createDecipheriv } from "node:crypto";

/** RFC 5649's alternative initial value; the message length completes it. */
const AIV = Buffer.from("a65959a6", "hex");

/**
 * AES key wrap with padding (RFC 5649): how the identifier may leave the element, wrapped under
 * a key its owner holds. OpenSSL does the work (id-aesNNN-wrap-pad); the key's length picks N.
 */
export function wrapWithPadding(kek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv(cipherFor(kek), kek, AIV);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

/** The inverse; throws when the key is wrong or the bytes were altered (the integrity check fails). */
export function unwrapWithPadding(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  const decipher = createDecipheriv(cipherFor(kek), kek, AIV);
  return Buffer.concat([decipher.update(wrapped), decipher.final()]);
}

function cipherFor(kek: Uint8Array): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) {
    throw new RangeError("an AES key-encryption key is 16, 24 or 32 bytes");
  }
  return `id-aes${kek.length * 8}-wrap-pad`;
}
