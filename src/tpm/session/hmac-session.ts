import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import type { ResponseAuth } from "../command.js";
import { TPMA_SESSION } from "../constants.js";
import { TpmWriter } from "../marshal/buffer.js";
import { kdfa } from "./kdf.js";

/** The session's hash (authHash) and its nonces' size: SHA-256's digest. */
const HASH = "sha256";
const NONCE_SIZE = 32;
/** AES-128-CFB: a 16-byte key and a 16-byte IV, both from one KDFa. */
const AES_KEY = 16;
const CFB_BITS = (AES_KEY + 16) * 8;

/** What checking a command's response needs to know about how the command was sealed. */
export interface Sealed {
  readonly code: number;
  readonly nonceCaller: Uint8Array;
  readonly attributes: number;
  /** The authorized entity's authValue without trailing zeros; empty when the session authorizes nothing. */
  readonly authValue: Uint8Array;
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

  constructor(
    readonly handle: number,
    private readonly sessionKey: Uint8Array,
    nonceTPM: Uint8Array,
  ) {
    this.nonceTPM = Uint8Array.from(nonceTPM);
  }

  /**
   * Seals a command whose handles have `names`: encrypts the first parameter in `parameters` in
   * place when the attributes ask, and returns the session's entry of the authorization area.
   */
  seal(
    code: number,
    names: readonly Uint8Array[],
    parameters: Uint8Array,
    authValue: Uint8Array,
    attributes: number,
  ): { authorization: Uint8Array; sealed: Sealed } {
    const sealed: Sealed = {
      code,
      nonceCaller: randomBytes(NONCE_SIZE),
      attributes,
      authValue: trimmed(authValue),
    };
    const key = this.key(sealed.authValue);
    try {
      if (attributes & TPMA_SESSION.decrypt) {
        cfb(key, sealed.nonceCaller, this.nonceTPM, firstParameter(parameters) as Uint8Array, "encrypt");
      }
      const cpHash = createHash(HASH).update(u32(code));
      for (const name of names) cpHash.update(name);
      const hmac = authHmac(
        key,
        cpHash.update(parameters).digest(),
        sealed.nonceCaller,
        this.nonceTPM,
        attributes,
      );
      const w = new TpmWriter();
      w.u32(this.handle);
      w.u16(NONCE_SIZE);
      w.raw(sealed.nonceCaller);
      w.u8(attributes);
      w.u16(hmac.length);
      w.raw(hmac);
      return { authorization: w.finish(), sealed };
    } finally {
      key.fill(0);
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
    const key = this.key(sealed.authValue);
    try {
      const rpHash = createHash(HASH).update(u32(0)).update(u32(sealed.code)).update(parameters).digest();
      const expected = authHmac(key, rpHash, auth.nonce, sealed.nonceCaller, auth.attributes);
      if (auth.hmac.length !== expected.length || !timingSafeEqual(auth.hmac, expected)) {
        return "its HMAC does not match";
      }
      this.nonceTPM = Uint8Array.from(auth.nonce);
      if (sealed.attributes & TPMA_SESSION.encrypt) {
        const first = firstParameter(parameters);
        if (!first) return "its first parameter is not a sized buffer";
        cfb(key, this.nonceTPM, sealed.nonceCaller, first, "decrypt");
      }
      return null;
    } finally {
      key.fill(0);
    }
  }

  /** Forgets the session key. */
  dispose(): void {
    this.sessionKey.fill(0);
  }

  /** sessionKey ‖ authValue: the HMAC key, and the secret parameter encryption derives from (Part 1, 21.1). */
  private key(authValue: Uint8Array): Buffer {
    return Buffer.concat([this.sessionKey, authValue]);
  }
}

/** cpHash (Part 1, 18.7): the command code, every handle's name, the parameters as sent. */
export function cpHash(code: number, names: readonly Uint8Array[], parameters: Uint8Array): Buffer {
  const hash = createHash(HASH).update(u32(code));
  for (const name of names) hash.update(name);
  return hash.update(parameters).digest();
}

function authHmac(
  key: Uint8Array,
  pHash: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  attributes: number,
): Buffer {
  return createHmac(HASH, key)
    .update(pHash)
    .update(nonceNewer)
    .update(nonceOlder)
    .update(Uint8Array.of(attributes))
    .digest();
}

/** AES-128-CFB over `data` in place, key and IV from KDFa(sessionValue, "CFB", newer, older). */
function cfb(
  sessionValue: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt",
): void {
  if (data.length === 0) return;
  const keyIv = kdfa(HASH, sessionValue, "CFB", nonceNewer, nonceOlder, CFB_BITS);
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

/** Part 1, 19.6.5: an authValue keys an HMAC without its trailing zero octets, as the TPM keeps it. */
function trimmed(authValue: Uint8Array): Uint8Array {
  let end = authValue.length;
  while (end > 0 && authValue[end - 1] === 0) end--;
  return authValue.slice(0, end);
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}
