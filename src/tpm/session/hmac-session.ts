import { createCipheriv, createDecipheriv, hash, timingSafeEqual } from "node:crypto";
import type { ResponseAuth } from "../command.js";
import { TPMA_SESSION } from "../constants.js";
import { HmacKey } from "./hmac-key.js";
import { kdfaWith } from "./kdf.js";
import { NoncePool } from "./nonce-pool.js";

/** The session's hash (authHash) and its nonces' size: SHA-256's digest. */
const HASH = "sha256";
const DIGEST_SIZE = 32;
const NONCE_SIZE = 32;
/** AES-128-CFB: a 16-byte key and a 16-byte IV, both from one KDFa. */
const AES_KEY = 16;
const CFB_BITS = (AES_KEY + 16) * 8;
/** The session's entry in a command's authorization area: handle, nonceCaller, attributes, HMAC. */
export const AUTHORIZATION_SIZE = 4 + 2 + NONCE_SIZE + 1 + 2 + DIGEST_SIZE;

/** What checking a command's response needs to know about how the command was sealed. */
export interface Sealed {
  readonly code: number;
  readonly nonceCaller: Uint8Array;
  readonly attributes: number;
  /**
   * HMAC under sessionKey ‖ authValue (the authorized entity's; none when the session authorizes
   * nothing), which the response's check and decryption need too. The caller disposes of it once
   * the response is read.
   */
  readonly key: HmacKey;
}

/**
 * One salted, unbound HMAC session (TPM 2.0 Part 1, 19.6 and 21): each command gets a fresh
 * nonceCaller, its first parameter encrypted with AES-128-CFB when `decrypt` is set, and an HMAC
 * over cpHash and both nonces keyed with sessionKey ‖ authValue; each response's HMAC over rpHash
 * is checked before anything in it is used, its nonceTPM becomes the next command's older nonce, and
 * its first parameter is decrypted when `encrypt` is set. docs/spec.md §5.7.
 */
export class HmacSession {
  private nonceTPM: Uint8Array;
  /** nonceCallers, drawn from the CSPRNG in bulk. */
  private readonly nonces = new NoncePool(NONCE_SIZE);

  constructor(
    readonly handle: number,
    private readonly sessionKey: Uint8Array,
    nonceTPM: Uint8Array,
  ) {
    this.nonceTPM = Uint8Array.from(nonceTPM);
  }

  /**
   * Seals a command whose handles have `names`: encrypts the first parameter in `parameters` in
   * place when the attributes ask, and writes the session's entry of the authorization area
   * (AUTHORIZATION_SIZE bytes) into `authorization`.
   */
  seal(
    code: number,
    names: readonly Uint8Array[],
    parameters: Uint8Array,
    authValue: Uint8Array,
    attributes: number,
    authorization: Uint8Array,
  ): Sealed {
    if (authorization.length !== AUTHORIZATION_SIZE) {
      throw new RangeError(`a session's authorization takes ${AUTHORIZATION_SIZE} bytes`);
    }
    const sealed: Sealed = { code, nonceCaller: this.nonces.next(), attributes, key: this.key(authValue) };
    try {
      if (attributes & TPMA_SESSION.decrypt) {
        const first = firstParameter(parameters) as Uint8Array;
        cfb(sealed.key, sealed.nonceCaller, this.nonceTPM, first, "encrypt");
      }
      const pHash = cpHash(code, names, parameters);
      const hmac = authHmac(sealed.key, pHash, sealed.nonceCaller, this.nonceTPM, attributes);
      const view = new DataView(authorization.buffer, authorization.byteOffset, AUTHORIZATION_SIZE);
      view.setUint32(0, this.handle);
      view.setUint16(4, NONCE_SIZE);
      authorization.set(sealed.nonceCaller, 6);
      view.setUint8(6 + NONCE_SIZE, attributes);
      view.setUint16(7 + NONCE_SIZE, hmac.length);
      authorization.set(hmac, 9 + NONCE_SIZE);
      return sealed;
    } catch (error) {
      sealed.key.dispose();
      throw error;
    }
  }

  /**
   * Checks a successful response's HMAC, then takes its nonceTPM and decrypts its first parameter
   * in place when the session asked for that. Returns why it fails the check, or null.
   */
  open(sealed: Sealed, parameters: Uint8Array, auth: ResponseAuth): string | null {
    if (auth.attributes !== sealed.attributes) {
      return `its session attributes are 0x${auth.attributes.toString(16)}, not 0x${sealed.attributes.toString(16)}`;
    }
    const rpHash = digest(RP_PREFIX, u32(sealed.code), parameters);
    const expected = authHmac(sealed.key, rpHash, auth.nonce, sealed.nonceCaller, auth.attributes);
    if (auth.hmac.length !== expected.length || !timingSafeEqual(auth.hmac, expected)) {
      return "its HMAC does not match";
    }
    this.nonceTPM = Uint8Array.from(auth.nonce);
    if (sealed.attributes & TPMA_SESSION.encrypt) {
      const first = firstParameter(parameters);
      if (!first) return "its first parameter is not a sized buffer";
      cfb(sealed.key, this.nonceTPM, sealed.nonceCaller, first, "decrypt");
    }
    return null;
  }

  /** Forgets the session key. */
  dispose(): void {
    this.sessionKey.fill(0);
  }

  /**
   * HMAC under sessionKey ‖ authValue: the command's, the response's, and the secret parameter
   * encryption derives from (Part 1, 21.1). The authValue without its trailing zero octets, as the
   * TPM keeps it (Part 1, 19.6.5).
   */
  private key(authValue: Uint8Array): HmacKey {
    let end = authValue.length;
    while (end > 0 && authValue[end - 1] === 0) end--;
    const value = Buffer.concat([this.sessionKey, authValue.subarray(0, end)]);
    try {
      return new HmacKey(value);
    } finally {
      value.fill(0);
    }
  }
}

/** cpHash (Part 1, 18.7): the command code, every handle's name, the parameters as sent. */
export function cpHash(code: number, names: readonly Uint8Array[], parameters: Uint8Array): Buffer {
  return digest(u32(code), ...names, parameters);
}

/** rpHash (Part 1, 18.8) starts with the response code, TPM_RC_SUCCESS for every response checked. */
const RP_PREFIX = new Uint8Array(4);

/** SHA-256 of the parts in order, in one call (parameters as they cross the wire: nothing secret). */
function digest(...parts: Uint8Array[]): Buffer {
  return hash(HASH, Buffer.concat(parts), "buffer");
}

function authHmac(
  key: HmacKey,
  pHash: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  attributes: number,
): Buffer {
  return key.mac(Buffer.concat([pHash, nonceNewer, nonceOlder, Uint8Array.of(attributes)]));
}

/** AES-128-CFB over `data` in place, key and IV from KDFa(sessionValue, "CFB", newer, older). */
function cfb(
  sessionValue: HmacKey,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt",
): void {
  if (data.length === 0) return;
  const keyIv = kdfaWith((message) => sessionValue.mac(message), "CFB", nonceNewer, nonceOlder, CFB_BITS);
  const key = keyIv.subarray(0, AES_KEY);
  const iv = keyIv.subarray(AES_KEY);
  const cipher =
    direction === "encrypt"
      ? createCipheriv("aes-128-cfb", key, iv)
      : createDecipheriv("aes-128-cfb", key, iv);
  const out = cipher.update(data);
  cipher.final();
  data.set(out);
  out.fill(0);
  keyIv.fill(0);
}

/** The bytes of the first parameter, a TPM2B at the front of `parameters`, or null if it does not fit. */
function firstParameter(parameters: Uint8Array): Uint8Array | null {
  if (parameters.length < 2) return null;
  const size = (parameters[0] as number) * 256 + (parameters[1] as number);
  return size + 2 <= parameters.length ? parameters.subarray(2, 2 + size) : null;
}

function u32(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}
