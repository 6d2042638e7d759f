import { createPublicKey, type KeyObject } from "node:crypto";
import type { KeyAlgorithm } from "./derivation.js";

/** A derived public key as SubjectPublicKeyInfo PEM, which openssl and every TLS stack read. */
export function publicKeyPem(algorithm: KeyAlgorithm, publicKey: Uint8Array): string {
  return publicKeyObject(algorithm, publicKey).export({ type: "spki", format: "pem" }).toString();
}

/** A derived public key as SubjectPublicKeyInfo DER. */
export function publicKeySpki(algorithm: KeyAlgorithm, publicKey: Uint8Array): Uint8Array {
  return publicKeyObject(algorithm, publicKey).export({ type: "spki", format: "der" });
}

/** A derived public key as a KeyObject: what node:crypto verifies signatures and agrees keys with. */
export function publicKeyObject(algorithm: KeyAlgorithm, publicKey: Uint8Array): KeyObject {
  const jwk =
    algorithm === "p256"
      ? {
          kty: "EC",
          crv: "P-256",
          x: base64url(publicKey.subarray(1, 33)),
          y: base64url(publicKey.subarray(33, 65)),
        }
      : { kty: "OKP", crv: algorithm === "ed25519" ? "Ed25519" : "X25519", x: base64url(publicKey) };
  return createPublicKey({ key: jwk, format: "jwk" });
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
}
