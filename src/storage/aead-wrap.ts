import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * A value kept on disk that only `key` opens: AES-256-GCM, hex of nonce (12) ‖ ciphertext ‖ tag
 * (16). The owner's previous authValue in owner.json and the audit key's copy during a move
 * (docs/spec.md §5.7, §9.7) are kept so, each under a key of its own label.
 */
export function wrapWith(key: Uint8Array, value: Uint8Array): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const sealed = Buffer.concat([cipher.update(value), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString("hex");
}

/** The value wrapWith kept, or null when `key` does not open it (or it is not one). */
export function unwrapWith(key: Uint8Array, wrapped: string): Buffer | null {
  const bytes = Buffer.from(wrapped, "hex");
  if (bytes.length < 28) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  } catch {
    return null;
  }
}
