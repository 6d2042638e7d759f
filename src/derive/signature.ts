import { createPrivateKey, type KeyObject, sign as opensslSign, verify as opensslVerify } from "node:crypto";
import type { DerivedKeys, KeyAlgorithm } from "./derivation.js";
import { publicKeyObject } from "./public-key.js";

export type SigningAlgorithm = "ed25519" | "p256";

/** The derived public key that verifies `algorithm`'s signatures. */
export function signingPublicKey(keys: DerivedKeys, algorithm: SigningAlgorithm): Uint8Array {
  return algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey;
}

/**
 * Ed25519 signs the message itself (64 bytes, RFC 8032). P-256 signs its SHA-256 as ECDSA, DER
 * encoded, with a fresh random nonce. Both verify with openssl pkeyutl. Signing goes through
 * OpenSSL, like the certificates' and the derived public keys (openssl-keys.ts): one code path.
 */
export function sign(algorithm: SigningAlgorithm, keys: DerivedKeys, message: Uint8Array): Uint8Array {
  return signBytes(algorithm, privateKeyObject(keys, algorithm), message, "der");
}

/**
 * The private key as a KeyObject, imported as JWK: OpenSSL's DER decoder takes ~0.35 ms here, the
 * JWK path ~0.04 ms. The price is a short-lived base64url string of the secret in the JS heap,
 * which cannot be zeroed, like the BigInt copies the curve arithmetic already leaves. X25519 keys
 * serve key agreement (binding), the others signing.
 */
export function privateKeyObject(keys: Partial<DerivedKeys>, algorithm: KeyAlgorithm): KeyObject {
  // A view, not a copy: no second buffer of the secret is left behind.
  const b64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
  const missing = () => new Error(`no ${algorithm} key was derived`);
  let jwk: Record<string, string>;
  if (algorithm === "p256") {
    if (!keys.p256) throw missing();
    jwk = {
      kty: "EC",
      crv: "P-256",
      d: b64(keys.p256.scalar),
      x: b64(keys.p256.publicKey.subarray(1, 33)),
      y: b64(keys.p256.publicKey.subarray(33, 65)),
    };
  } else {
    const pair = algorithm === "ed25519" ? keys.ed25519 : keys.x25519;
    if (!pair) throw missing();
    const secret = "seed" in pair ? pair.seed : pair.secret;
    const curve = algorithm === "ed25519" ? "Ed25519" : "X25519";
    jwk = { kty: "OKP", crv: curve, d: b64(secret), x: b64(pair.publicKey) };
  }
  return createPrivateKey({ key: jwk, format: "jwk" });
}

/**
 * Ed25519 over the bytes themselves; ECDSA P-256 over their SHA-256, as DER (X.509's encoding) or
 * r || s (WebCrypto's).
 */
export function signBytes(
  algorithm: SigningAlgorithm,
  key: KeyObject,
  data: ArrayBuffer | Uint8Array,
  ecdsaEncoding: "der" | "ieee-p1363",
): Buffer {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return algorithm === "ed25519"
    ? opensslSign(null, bytes, key)
    : opensslSign("sha256", bytes, { key, dsaEncoding: ecdsaEncoding });
}

/**
 * Checks a signature as `sign` makes them, through OpenSSL (a tenth of noble's time: the
 * registry checks two for every succession). Ed25519 as RFC 8032 says, strictly; ECDSA P-256 any
 * valid DER signature, high-S included. The key is raw: Ed25519's 32 bytes, P-256's 65 (SEC1
 * uncompressed, as reid derives and stores them); any other is no key, and nothing verifies.
 */
export function verify(
  algorithm: SigningAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== (algorithm === "ed25519" ? 32 : 65)) return false;
  let key: KeyObject;
  try {
    key = publicKeyObject(algorithm, publicKey);
  } catch {
    return false;
  }
  return verifyWith(algorithm, key, message, signature);
}

/** `verify` with the key already a KeyObject (a caller that has imported it does not again). */
export function verifyWith(
  algorithm: SigningAlgorithm,
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return algorithm === "ed25519"
      ? opensslVerify(null, message, key, signature)
      : opensslVerify("sha256", message, { key, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

/**
 * The algorithms a signature's form allows, most likely first: a DER ECDSA-Sig-Value (SEQUENCE of
 * two INTEGERs of at most 33 bytes) is P-256's, as `sign` makes them; 64 bytes are Ed25519's. A
 * 64-byte DER one (rare short r and s) could be either and is tried as both; none: no signature
 * of ours.
 */
export function signatureAlgorithms(signature: Uint8Array): SigningAlgorithm[] {
  const candidates: SigningAlgorithm[] = [];
  if (isEcdsaDer(signature)) candidates.push("p256");
  if (signature.length === 64) candidates.push("ed25519");
  return candidates;
}

function isEcdsaDer(der: Uint8Array): boolean {
  const n = der.length;
  if (n < 8 || der[0] !== 0x30 || der[1] !== n - 2 || der[2] !== 0x02) return false;
  const r = der[3] ?? 0;
  const s = der[5 + r] ?? 0;
  return r >= 1 && r <= 33 && der[4 + r] === 0x02 && s >= 1 && s <= 33 && 6 + r + s === n;
}
