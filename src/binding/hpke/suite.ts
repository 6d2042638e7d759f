import type { webcrypto } from "node:crypto";
import { CipherSuite } from "@hpke/core";
import { NodeAes128Gcm } from "./aes-128-gcm.js";
import { NodeHkdfSha256 } from "./hkdf-sha256.js";
import { NodeDhkemX25519HkdfSha256 } from "./x25519.js";

/**
 * Telemetry's HPKE suite (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
 * @hpke/core runs the protocol (modes, key schedule, nonces, sequence); its X25519, HMAC and AES-GCM
 * calls are node:crypto's, in-line, through the library's own extension points. The RFC's test
 * vectors and a byte-for-byte comparison with @hpke/core's stock WebCrypto suite hold it to that.
 */
export const SUITE = new CipherSuite({
  kem: new NodeDhkemX25519HkdfSha256(),
  kdf: new NodeHkdfSha256(),
  aead: new NodeAes128Gcm(),
});

export interface X25519Pair {
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A derived X25519 pair as the suite's keys (with both halves at hand: no derivation needed). */
export async function suiteKeyPair(pair: X25519Pair): Promise<webcrypto.CryptoKeyPair> {
  const b64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
  return {
    privateKey: await SUITE.kem.importKey(
      "jwk",
      { kty: "OKP", crv: "X25519", d: b64(pair.secret), x: b64(pair.publicKey) },
      false,
    ),
    publicKey: await SUITE.kem.deserializePublicKey(pair.publicKey),
  };
}
