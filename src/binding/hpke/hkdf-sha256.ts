import { HkdfSha256 } from "@hpke/core";
import { hkdf, hkdfExpand, hkdfExtract } from "../../derive/hkdf.js";
import { arrayBufferOf, type Bytes, bytesOf } from "./bytes.js";

/**
 * HPKE's HKDF-SHA256 with its three primitives on node:crypto. @hpke/core keeps the labeled
 * extract and expand (the "HPKE-v1" suite labels, the key schedule); the stock class computes each
 * HMAC through async WebCrypto with a key import first, about twenty thread-pool round trips per
 * context, which dominated setting one up.
 */
export class NodeHkdfSha256 extends HkdfSha256 {
  override async extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    return arrayBufferOf(hkdfExtract(bytesOf(salt), bytesOf(ikm)));
  }

  override async expand(prk: Bytes, info: Bytes, length: number): Promise<ArrayBuffer> {
    return arrayBufferOf(hkdfExpand(bytesOf(prk), bytesOf(info), length));
  }

  override async extractAndExpand(
    salt: Bytes,
    ikm: Bytes,
    info: Bytes,
    length: number,
  ): Promise<ArrayBuffer> {
    return arrayBufferOf(hkdf(bytesOf(ikm), bytesOf(salt), bytesOf(info), length));
  }
}
