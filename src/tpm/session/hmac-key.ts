import { hash } from "node:crypto";

const BLOCK = 64;

/**
 * HMAC-SHA-256 (RFC 2104) under one key, as two one-shot hashes over the key's padded blocks. A
 * session computes three HMACs a command under one key (the command's, KDFa's for CFB, the
 * response's); node's Hmac objects cost more to make than the hashing they do. The padded keys
 * are secret: every buffer that held them is zeroed, and so are they on dispose().
 */
export class HmacKey {
  private readonly inner = new Uint8Array(BLOCK);
  private readonly outer = new Uint8Array(BLOCK);

  constructor(key: Uint8Array) {
    const short = key.length > BLOCK ? hash("sha256", key, "buffer") : key;
    for (let i = 0; i < BLOCK; i++) {
      const byte = i < short.length ? (short[i] as number) : 0;
      this.inner[i] = byte ^ 0x36;
      this.outer[i] = byte ^ 0x5c;
    }
    if (short !== key) short.fill(0);
  }

  mac(message: Uint8Array): Buffer {
    const first = Buffer.concat([this.inner, message]);
    const innerDigest = hash("sha256", first, "buffer");
    first.fill(0);
    const second = Buffer.concat([this.outer, innerDigest]);
    innerDigest.fill(0);
    try {
      return hash("sha256", second, "buffer");
    } finally {
      second.fill(0);
    }
  }

  dispose(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}
