import { p256_hasher } from "@noble/curves/nist.js";

const DST = new TextEncoder().encode("reid-factory-tpm-v1_P256_XMD:SHA-256_SSWU_RO_");

/** The fixed P-256 point the TPM's factory key multiplies (RFC 9380 hash-to-curve: no known discrete log). */
export const FACTORY_POINT: { readonly x: Uint8Array; readonly y: Uint8Array } = (() => {
  const point = p256_hasher.hashToCurve(new TextEncoder().encode("reid factory point"), { DST }).toAffine();
  const bytes = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, "0"), "hex"));
  return { x: bytes(point.x), y: bytes(point.y) };
})();
