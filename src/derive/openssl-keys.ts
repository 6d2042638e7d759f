import { createECDH, createPrivateKey } from "node:crypto";

/**
 * The public halves of the derived keys (docs/spec.md §4.2), computed by OpenSSL: an Ed25519 key
 * from its 32-byte seed (RFC 8032 §5.1.5) in ~0.05-0.1 ms where @noble/curves takes ~0.7-1.7 ms, and
 * the same for an X25519 secret (RFC 7748, clamped inside the multiplication) and a P-256 scalar.
 * Every reset derives the handle, so this is most of a reset's CPU time. Held to @noble/curves and
 * the RFCs' vectors by test/derive/openssl-keys.test.ts: the bytes are those of derivation v1.
 *
 * The way in for a bare 32-byte secret is JWK: PKCS#8 DER (RFC 8410) is the documented one, but
 * OpenSSL 3.0's DER decoder takes ~1 ms a key here. Node's JWK import of an OKP private key makes
 * the key from `d` alone (OpenSSL computes its public half); `x` must be a string and is not read,
 * so it is left empty. A Node that checked it against `d` would refuse the key (an error, never a
 * wrong key): the public key read back is always OpenSSL's own.
 * As with signing (signature.ts), the secret passes through base64url strings (the import's and
 * the export's) that cannot be zeroed, and OpenSSL's copy is cleared when the key object is collected.
 */
export function okpPublicKey(curve: "Ed25519" | "X25519", secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new RangeError(`an ${curve} secret is 32 bytes`);
  const d = Buffer.from(secret.buffer, secret.byteOffset, secret.length).toString("base64url");
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: curve, d, x: "" }, format: "jwk" });
  // The private key's own JWK carries OpenSSL's public half: no public key object is made for it.
  const { x } = privateKey.export({ format: "jwk" });
  const publicKey = typeof x === "string" ? Buffer.from(x, "base64url") : Buffer.alloc(0);
  if (publicKey.length !== 32) throw new Error(`OpenSSL gave no ${curve} public key`);
  return new Uint8Array(publicKey);
}

/** The uncompressed SEC1 public key (65 bytes) of a P-256 scalar in [1, n-1], 32 bytes big-endian. */
export function p256PublicKey(scalar: Uint8Array): Uint8Array {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(scalar);
  return new Uint8Array(ecdh.getPublicKey(null, "uncompressed"));
}
