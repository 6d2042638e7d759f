import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { unwrapWith, wrapWith } from "../storage/aead-wrap.js";

/** OWASP's argon2id floor: 19 MiB, two passes, one lane. */
export const PIN_KDF = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const SALT = 16;
const KEY = 32;

/**
 * The owner's secret: one argon2id of the PIN, from which everything the PIN unlocks is derived by
 * HMAC-SHA-256 under its own label, so one argon2id per owner operation serves them all and none
 * reveals another (docs/spec.md §2.8): the check kept in owner.json, the authValue of reid's TPM NV
 * indices (§5.7), the key that keeps a previous authValue while the indices move to a new one.
 */
export async function pinSecret(pin: string, salt: Uint8Array): Promise<Buffer> {
  const { hashRaw } = await import("@node-rs/argon2");
  return hashRaw(pin, { algorithm: 2, ...PIN_KDF, outputLen: KEY, salt: Buffer.from(salt) });
}

export function newPinSalt(): Buffer {
  return randomBytes(SALT);
}

/** What owner.json keeps to tell the right PIN: HMAC(secret, "reid/pin-check"). */
export function pinCheck(secret: Uint8Array): Buffer {
  return label(secret, "reid/pin-check");
}

/** Whether `secret` makes the kept check, compared in constant time. */
export function checks(secret: Uint8Array, check: Uint8Array): boolean {
  const made = pinCheck(secret);
  try {
    return made.length === check.length && timingSafeEqual(made, check);
  } finally {
    made.fill(0);
  }
}

/**
 * The authValue of reid's NV indices under this PIN: HMAC(secret, "reid/tpm-nv-auth"), 32 bytes
 * (an index of nameAlg SHA-256 takes at most its digest's size).
 */
export function tpmAuthValue(secret: Uint8Array): Buffer {
  return label(secret, "reid/tpm-nv-auth");
}

/** A value kept in owner.json that only this PIN opens: AES-256-GCM under HMAC(secret, "reid/owner-wrap"). */
export function wrapUnder(secret: Uint8Array, value: Uint8Array): string {
  const key = label(secret, "reid/owner-wrap");
  try {
    return wrapWith(key, value);
  } finally {
    key.fill(0);
  }
}

/** The value wrapUnder kept, or null when `secret` does not open it. */
export function unwrapUnder(secret: Uint8Array, wrapped: string): Buffer | null {
  const key = label(secret, "reid/owner-wrap");
  try {
    return unwrapWith(key, wrapped);
  } finally {
    key.fill(0);
  }
}

function label(secret: Uint8Array, name: string): Buffer {
  return createHmac("sha256", secret).update(name).digest();
}
