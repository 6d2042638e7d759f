import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from "node:crypto";

/**
 * The processing step "encrypting the random information" (patent FIG. 8): the identifier is
 * stored sealed under a key-encryption key, bound to the bytes around it (header, generation,
 * handle, store id), so a copy of the store reveals nothing and a record cannot be moved or replayed
 * into another generation unnoticed.
 * Specified in docs/spec.md §5.4.
 */
export interface Sealer {
  /** Bytes a sealed payload takes beyond its plaintext. */
  readonly overhead: number;
  /** Names the key without revealing it (a short hash), to tell two keys apart. */
  readonly keyId: string;
  seal(plaintext: Uint8Array, associated: Uint8Array): Uint8Array;
  /** The plaintext, or null when the key is wrong or the bytes were altered. */
  open(sealed: Uint8Array, associated: Uint8Array): Uint8Array | null;
}

const NONCE = 12;
const TAG = 16;
export const KEK_LENGTH = 32;

/** AES-256-GCM with a fresh random 96-bit nonce per seal (one seal per commit: far from any nonce limit). */
export class AesGcmSealer implements Sealer {
  readonly overhead = NONCE + TAG;
  readonly keyId: string;
  private readonly key: KeyObject;

  /**
   * Takes a copy of `kek` into a KeyObject; the caller zeroes its own buffer. `keyId`: the key's
   * name where it is not the key's hash (a key kept in a TPM has an id of its own).
   */
  constructor(kek: Uint8Array, keyId?: string) {
    if (kek.length !== KEK_LENGTH) throw new RangeError(`a key-encryption key is ${KEK_LENGTH} bytes`);
    this.key = createSecretKey(Buffer.from(kek));
    this.keyId = keyId ?? keyIdOf(kek);
  }

  seal(plaintext: Uint8Array, associated: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG });
    cipher.setAAD(associated);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  open(sealed: Uint8Array, associated: Uint8Array): Uint8Array | null {
    if (sealed.length < NONCE + TAG) return null;
    const decipher = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(0, NONCE), {
      authTagLength: TAG,
    });
    decipher.setAAD(associated);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plain = decipher.update(sealed.subarray(NONCE, sealed.length - TAG));
    try {
      decipher.final();
      return plain;
    } catch {
      plain.fill(0);
      return null;
    }
  }
}

/** A key's id: 8 bytes of SHA-256 over a label and the key, in hex. */
export function keyIdOf(kek: Uint8Array): string {
  return createHash("sha256").update("reid/kek-id").update(kek).digest("hex").slice(0, 16);
}
