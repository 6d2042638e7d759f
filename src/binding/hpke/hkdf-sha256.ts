import { createHmac, hkdfSync } from "node:crypto";
import { HkdfSha256 } from "@hpke/core";
import { arrayBufferOf, type Bytes, bytesOf } from "./bytes.js";

const HASH_SIZE = 32;

/**
 * HPKE's HKDF-SHA256 with its three primitives on node:crypto. @hpke/core keeps the labeled
 * extract and expand (the "HPKE-v1" suite labels, the key schedule); the stock class computes each
 * HMAC through async WebCrypto with a key import first, about twenty thread-pool round trips per
 * context, which dominated setting one up.
 */
export class NodeHkdfSha256 extends HkdfSha256 {
  override async extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    // RFC 5869: an absent salt is HashLen zeros.
    const key = salt.byteLength === 0 ? new Uint8Array(HASH_SIZE) : bytesOf(salt);
    return arrayBufferOf(createHmac("sha256", key).update(bytesOf(ikm)).digest());
  }

  override async expand(prk: Bytes, info: Bytes, length: number): Promise<ArrayBuffer> {
    if (length > 255 * HASH_SIZE) throw new RangeError("HKDF-Expand: the length is over 255 blocks");
    const out = Buffer.alloc(length);
    let block: Buffer = Buffer.alloc(0);
    for (let counter = 1, at = 0; at < length; counter++) {
      block = createHmac("sha256", bytesOf(prk))
        .update(block)
        .update(bytesOf(info))
        .update(Buffer.of(counter))
        .digest();
      at += block.copy(out, at);
    }
    return arrayBufferOf(out);
  }

  override async extractAndExpand(
    salt: Bytes,
    ikm: Bytes,
    info: Bytes,
    length: number,
  ): Promise<ArrayBuffer> {
    return hkdfSync("sha256", bytesOf(ikm), bytesOf(salt), bytesOf(info), length);
  }
}
