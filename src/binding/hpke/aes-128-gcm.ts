import { createCipheriv, createDecipheriv } from "node:crypto";
import { AeadId } from "@hpke/core";
import { arrayBufferOf, type Bytes, bytesOf } from "./bytes.js";

const KEY_SIZE = 16;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;

/**
 * HPKE's AES-128-GCM on node:crypto (OpenSSL), plugged into @hpke/core through its AEAD interface
 * (as its own ChaCha20-Poly1305 add-on is). @hpke/core keeps the key schedule, the nonces and the
 * sequence; only the cipher call changes. The stock Aes128Gcm goes through async WebCrypto, a round
 * trip to the thread pool per message, which caps a context at about 8,000 seal+open a second
 * here; this runs the same cipher in-line, about ten times faster.
 */
export class NodeAes128Gcm {
  readonly id = AeadId.Aes128Gcm;
  readonly keySize = KEY_SIZE;
  readonly nonceSize = NONCE_SIZE;
  readonly tagSize = TAG_SIZE;

  createEncryptionContext(key: Bytes) {
    const raw = bytesOf(key);
    if (raw.length !== KEY_SIZE) throw new RangeError(`an AES-128-GCM key is ${KEY_SIZE} bytes`);
    // A copy: @hpke/core may clear or reuse the buffer it handed over.
    return new NodeAesGcmContext(Buffer.from(raw));
  }
}

class NodeAesGcmContext {
  constructor(private readonly key: Buffer) {}

  async seal(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    const cipher = createCipheriv("aes-128-gcm", this.key, bytesOf(iv), { authTagLength: TAG_SIZE });
    cipher.setAAD(bytesOf(aad));
    return arrayBufferOf(Buffer.concat([cipher.update(bytesOf(data)), cipher.final(), cipher.getAuthTag()]));
  }

  async open(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    const sealed = bytesOf(data);
    if (sealed.length < TAG_SIZE) throw new Error("the ciphertext is shorter than its tag");
    const decipher = createDecipheriv("aes-128-gcm", this.key, bytesOf(iv), { authTagLength: TAG_SIZE });
    decipher.setAAD(bytesOf(aad));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    // final() throws when the tag does not match: @hpke/core turns that into its OpenError.
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    return arrayBufferOf(Buffer.concat([body, decipher.final()]));
  }
}
