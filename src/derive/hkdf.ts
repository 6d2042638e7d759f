import { createHmac } from "node:crypto";

const HASH_SIZE = 32;

/**
 * HKDF-SHA256 (RFC 5869) on node:crypto's HMAC, synchronous. node:crypto's own hkdfSync gives the
 * same bytes but fetches OpenSSL's KDF on every call (~35 µs here, against ~5 µs an HMAC): every
 * reset derives its handle with it (derivation.ts), a bind its MAC key on each side
 * (binding/bind-keys.ts), an HPKE context a few times.
 * Held to RFC 5869's vectors and to hkdfSync by test/derive/hkdf.test.ts.
 */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  // An absent salt is HashLen zeros, which HMAC's zero padding of a short key already gives.
  return createHmac("sha256", salt).update(ikm).digest();
}

export function hkdfExpand(prk: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  if (length > 255 * HASH_SIZE) throw new RangeError("HKDF-Expand: the length is over 255 blocks");
  const out = Buffer.alloc(length);
  let block: Buffer = Buffer.alloc(0);
  for (let counter = 1, at = 0; at < length; counter++) {
    block = createHmac("sha256", prk).update(block).update(info).update(Buffer.of(counter)).digest();
    at += block.copy(out, at);
  }
  return out;
}

/** Extract then expand; the pseudorandom key in between is zeroed. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  const prk = hkdfExtract(salt, ikm);
  try {
    return hkdfExpand(prk, info, length);
  } finally {
    prk.fill(0);
  }
}
