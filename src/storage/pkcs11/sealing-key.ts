import { randomBytes } from "node:crypto";
import { StorageError } from "../../errors.js";
import { CK_PARAMS_AES_GCM_v240, CKA, CKK, CKM, CKO } from "../../pkcs11/constants.js";
import type { ObjectHandle, Pkcs11Session } from "../../pkcs11/session.js";
import type { Sealer } from "../sealer.js";
import type { SealingKeyHome } from "../sealing/key-home.js";
import { keptSecretKey } from "./objects.js";

/** The label of reid's sealing keys on a token; CKA_ID tells them apart (a rotation holds two). */
export const SEALING_KEY_LABEL = "reid-sealing-key";
const NONCE = 12;
const TAG = 16;

/**
 * The token's home for sealing keys: an AES-256 secret key generated inside the token
 * (C_GenerateKey), a token object, private, sensitive and never extractable, so its value never
 * leaves the token; sealing and opening are CKM_AES_GCM inside it. The key's id is its CKA_ID (8
 * random bytes, in hex where store.json names it). Specified in docs/spec.md §5.4, §5.9.
 */
export class Pkcs11SealingKeys implements SealingKeyHome {
  readonly kind = "pkcs11" as const;

  constructor(private readonly session: Pkcs11Session) {}

  async create(keyId: string): Promise<Sealer> {
    const id = Buffer.from(keyId, "hex");
    const template = keptSecretKey(CKK.AES, 32, [CKA.ENCRYPT, CKA.DECRYPT], SEALING_KEY_LABEL, id);
    // A token object is on the token when C_GenerateKey answers.
    const key = this.session.generateKey({ mechanism: CKM.AES_KEY_GEN }, template);
    return new TokenSealer(this.session, key, keyId);
  }

  async open(id: string): Promise<Sealer> {
    const found = this.find(id);
    if (found.length === 0) {
      throw new StorageError(
        `the store is sealed under the token's key ${id}, which ${this.session.where} no longer holds (deleted, or another token): the identifier cannot be opened`,
        "store-key-missing",
      );
    }
    if (found.length > 1) {
      throw new StorageError(
        `${this.session.where} holds ${found.length} keys labelled '${SEALING_KEY_LABEL}' with id ${id}: remove the copies`,
        "store-foreign",
      );
    }
    const key = found[0] as ObjectHandle;
    const [extractable, sensitive] = this.session.attributes(key, [CKA.EXTRACTABLE, CKA.SENSITIVE]);
    if (extractable?.[0] !== 0 || sensitive?.[0] !== 1) {
      throw new StorageError(
        `the key ${id} on ${this.session.where} is extractable or not sensitive: it is not the key reid made, and is not used`,
        "store-foreign",
      );
    }
    return new TokenSealer(this.session, key, id);
  }

  async destroy(id: string): Promise<void> {
    for (const key of this.find(id)) this.session.destroy(key);
  }

  async sweep(keep: string | null): Promise<void> {
    const keys = this.session.find([
      { type: CKA.CLASS, value: CKO.SECRET_KEY },
      { type: CKA.LABEL, value: SEALING_KEY_LABEL },
    ]);
    for (const key of keys) {
      const [id] = this.session.attributes(key, [CKA.ID]);
      if (id?.toString("hex") !== keep) this.session.destroy(key);
    }
  }

  close(): void {}

  private find(id: string): ObjectHandle[] {
    return this.session.find([
      { type: CKA.CLASS, value: CKO.SECRET_KEY },
      { type: CKA.LABEL, value: SEALING_KEY_LABEL },
      { type: CKA.ID, value: Buffer.from(id, "hex") },
    ]);
  }
}

/** AES-256-GCM inside the token: nonce (12) ‖ ciphertext ‖ tag (16), as AesGcmSealer lays it out. */
class TokenSealer implements Sealer {
  readonly overhead = NONCE + TAG;

  constructor(
    private readonly session: Pkcs11Session,
    private readonly key: ObjectHandle,
    readonly keyId: string,
  ) {}

  seal(plaintext: Uint8Array, associated: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE);
    const body = this.session.encrypt(
      this.mechanism(nonce, associated),
      this.key,
      Buffer.from(plaintext),
      plaintext.length + TAG,
    );
    return Buffer.concat([nonce, body]);
  }

  open(sealed: Uint8Array, associated: Uint8Array): Uint8Array | null {
    if (sealed.length < NONCE + TAG) return null;
    const nonce = Buffer.from(sealed.subarray(0, NONCE));
    return this.session.decrypt(
      this.mechanism(nonce, associated),
      this.key,
      Buffer.from(sealed.subarray(NONCE)),
      sealed.length - NONCE,
      { aead: true },
    );
  }

  private mechanism(nonce: Buffer, associated: Uint8Array) {
    return {
      mechanism: CKM.AES_GCM,
      parameter: {
        type: CK_PARAMS_AES_GCM_v240,
        iv: nonce,
        ivBits: NONCE * 8,
        aad: Buffer.from(associated),
        tagBits: TAG * 8,
      },
    };
  }
}
