import type { Mechanism, PKCS11 } from "pkcs11js";
import { StorageError } from "../errors.js";
import { CKU_USER } from "./constants.js";
import { describePkcs11Error, isReturnValue } from "./errors.js";

/** An object on the token, as the module names it for this process (an opaque handle). */
export type ObjectHandle = Buffer;

export interface Attribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer;
}

/** How many handles one C_FindObjects call may hand back. */
const FIND_BATCH = 16;
/** The most one C_GenerateRandom asks for: tokens may cap a single request. */
const RANDOM_CHUNK = 1024;

/**
 * One read-write session with a token: log in as the user, find, read, create and destroy
 * objects, and draw random bytes. Every failure is a one-line ReidError naming the function and
 * the CKR_* value with what to do (errors.ts).
 */
export class Pkcs11Session {
  private open = true;

  constructor(
    private readonly api: PKCS11,
    private readonly handle: Buffer,
    /** For messages: "PKCS#11 token 'reid' (module /usr/lib/softhsm/libsofthsm2.so)". */
    readonly where: string,
  ) {}

  /** C_Login as the user. A login this process already holds on the token is kept. */
  login(pin: string): void {
    this.assertOpen();
    try {
      this.api.C_Login(this.handle, CKU_USER, pin);
    } catch (error) {
      // Login state is the application's, shared by its sessions on the token.
      if (isReturnValue(error, "CKR_USER_ALREADY_LOGGED_IN")) return;
      throw this.explain(error);
    }
  }

  /** Every object the session can see that matches `template` (token and session objects). */
  find(template: readonly Attribute[]): ObjectHandle[] {
    return this.call(() => {
      this.api.C_FindObjectsInit(this.handle, [...template]);
      try {
        const found: ObjectHandle[] = [];
        for (;;) {
          const batch = this.api.C_FindObjects(this.handle, FIND_BATCH);
          found.push(...batch);
          if (batch.length < FIND_BATCH) return found;
        }
      } finally {
        this.api.C_FindObjectsFinal(this.handle);
      }
    });
  }

  /** The values of `types` on `object`, in that order (the caller zeroes secret ones). */
  attributes(object: ObjectHandle, types: readonly number[]): Buffer[] {
    const values = this.call(() =>
      this.api.C_GetAttributeValue(
        this.handle,
        object,
        types.map((type) => ({ type })),
      ),
    );
    return types.map((type) => values.find((a) => a.type === type)?.value ?? Buffer.alloc(0));
  }

  create(template: readonly Attribute[]): ObjectHandle {
    return this.call(() => this.api.C_CreateObject(this.handle, [...template]));
  }

  /** C_GenerateKey: a secret key made inside the token. */
  generateKey(mechanism: Mechanism, template: readonly Attribute[]): ObjectHandle {
    return this.call(() => this.api.C_GenerateKey(this.handle, mechanism, [...template]));
  }

  /** Single-part C_EncryptInit + C_Encrypt inside the token; at most `outLength` bytes back. */
  encrypt(mechanism: Mechanism, key: ObjectHandle, data: Buffer, outLength: number): Buffer {
    return this.call(() => {
      this.api.C_EncryptInit(this.handle, mechanism, key);
      return Buffer.from(this.api.C_Encrypt(this.handle, data, Buffer.alloc(outLength)));
    });
  }

  /**
   * Single-part C_DecryptInit + C_Decrypt inside the token; null when the token finds the data
   * not authentic (CKR_ENCRYPTED_DATA_INVALID, _LEN_RANGE, CKR_AEAD_DECRYPT_FAILED: a wrong key,
   * or the bytes altered). With an authenticated mechanism (`aead`, AES-GCM), also on
   * CKR_GENERAL_ERROR from C_Decrypt itself: SoftHSM2 (2.6) answers a failed tag so. A wrong "no"
   * costs nothing there, as a tag never passes for the wrong key: the caller tries another key or
   * says the record does not open.
   */
  decrypt(
    mechanism: Mechanism,
    key: ObjectHandle,
    data: Buffer,
    outLength: number,
    options: { readonly aead?: boolean } = {},
  ): Buffer | null {
    this.assertOpen();
    try {
      this.api.C_DecryptInit(this.handle, mechanism, key);
    } catch (error) {
      throw this.explain(error);
    }
    try {
      return Buffer.from(this.api.C_Decrypt(this.handle, data, Buffer.alloc(outLength)));
    } catch (error) {
      const notAuthentic = [
        "CKR_ENCRYPTED_DATA_INVALID",
        "CKR_ENCRYPTED_DATA_LEN_RANGE",
        "CKR_AEAD_DECRYPT_FAILED",
      ];
      if (notAuthentic.some((ckr) => isReturnValue(error, ckr))) return null;
      if (options.aead && isReturnValue(error, "CKR_GENERAL_ERROR")) return null;
      throw this.explain(error);
    }
  }

  destroy(object: ObjectHandle): void {
    this.call(() => this.api.C_DestroyObject(this.handle, object));
  }

  /** C_SignInit + C_Sign: `mechanism` (a MAC) over `data` under `key`, computed inside the token. */
  sign(mechanism: number, key: ObjectHandle, data: Uint8Array, length: number): Buffer {
    return this.call(() => {
      this.api.C_SignInit(this.handle, { mechanism }, key);
      return Buffer.from(this.api.C_Sign(this.handle, Buffer.from(data), Buffer.alloc(length)));
    });
  }

  /** Fills `target` from the token's generator (C_GenerateRandom), in chunks it will take. */
  generateRandom(target: Uint8Array): void {
    const chunk = Buffer.alloc(Math.min(RANDOM_CHUNK, target.length));
    try {
      for (let filled = 0; filled < target.length; filled += chunk.length) {
        const want = Math.min(chunk.length, target.length - filled);
        const part = chunk.subarray(0, want);
        const got = this.call(() => this.api.C_GenerateRandom(this.handle, part));
        if (got.length !== want) {
          throw new RangeError(`C_GenerateRandom returned ${got.length} bytes, not ${want}`);
        }
        target.set(part, filled);
      }
    } finally {
      chunk.fill(0);
    }
  }

  /** Ends the session (the user stays logged in while the process has another on the token). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.api.C_CloseSession(this.handle);
    } catch {}
  }

  private call<T>(task: () => T): T {
    this.assertOpen();
    try {
      return task();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** A closed session's handle may belong to a finalized (unloaded) module: never pass it on. */
  private assertOpen(): void {
    if (!this.open) {
      throw new StorageError(`the session with ${this.where} is closed`, "pkcs11-session-lost");
    }
  }

  private explain(error: unknown): Error {
    return error instanceof RangeError ? error : describePkcs11Error(error, this.where);
  }
}
