import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import type { DerivedKeys } from "./derivation.js";

export type SigningAlgorithm = "ed25519" | "p256";

/**
 * Ed25519 signs the message itself (64 bytes, RFC 8032). P-256 signs its SHA-256 as ECDSA, DER
 * encoded, with hedged nonces (RFC 6979 plus fresh randomness). Both verify with openssl pkeyutl.
 */
export function sign(algorithm: SigningAlgorithm, keys: DerivedKeys, message: Uint8Array): Uint8Array {
  return algorithm === "ed25519"
    ? ed25519.sign(message, keys.ed25519.seed)
    : p256.sign(message, keys.p256.scalar, { format: "der", extraEntropy: true });
}

export function verify(
  algorithm: SigningAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return algorithm === "ed25519"
      ? ed25519.verify(signature, message, publicKey)
      : // Any valid ECDSA signature, high-S included, as openssl makes them.
        p256.verify(signature, message, publicKey, { format: "der", lowS: false });
  } catch {
    return false;
  }
}
