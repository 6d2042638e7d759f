import { StorageError } from "../../errors.js";
import { CKA, CKK, CKM, CKO } from "../../pkcs11/constants.js";
import type { ObjectHandle, Pkcs11Session } from "../../pkcs11/session.js";
import type { AuditKey, AuditKeyHome } from "../audit-key-home.js";
import { keptSecretKey } from "./objects.js";

/** The label of the audit key on the token. */
export const AUDIT_KEY_LABEL = "reid-audit-key";
const KEY_LENGTH = 32;
const MAC_LENGTH = 32;

/**
 * The PKCS#11 backend's audit key: a CKK_GENERIC_SECRET of 32 bytes made inside the token
 * (C_GenerateKey), private, sensitive and not extractable, so its value never leaves the token:
 * the token computes each record's HMAC (CKM_SHA256_HMAC). CKA_ID holds the first keyed seq (8
 * bytes, big-endian). Specified in docs/spec.md §5.9 and §9.7.
 */
export class TokenAuditKeyHome implements AuditKeyHome {
  readonly description: string;

  constructor(private readonly session: Pkcs11Session) {
    this.description = `the secret key '${AUDIT_KEY_LABEL}' on ${session.where}`;
  }

  async load(): Promise<AuditKey | null> {
    const found = this.session.find([
      { type: CKA.LABEL, value: AUDIT_KEY_LABEL },
      { type: CKA.CLASS, value: CKO.SECRET_KEY },
    ]);
    if (found.length === 0) return null;
    if (found.length > 1) {
      throw new StorageError(
        `${found.length} secret keys on ${this.session.where} carry the label '${AUDIT_KEY_LABEL}'`,
        "store-foreign",
      );
    }
    const handle = found[0] as ObjectHandle;
    const [id = Buffer.alloc(0)] = this.session.attributes(handle, [CKA.ID]);
    const from = id.length === 8 ? id.readBigUInt64BE(0) : 0n;
    if (from < 1n || from > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new StorageError(
        `the secret key '${AUDIT_KEY_LABEL}' on ${this.session.where} is not reid's audit key (its CKA_ID is not a record number)`,
        "store-foreign",
      );
    }
    return this.keyOf(handle, Number(from));
  }

  async create(from: number): Promise<AuditKey> {
    const existing = await this.load();
    if (existing) return existing;
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(BigInt(from));
    const handle = this.session.generateKey(
      { mechanism: CKM.GENERIC_SECRET_KEY_GEN },
      keptSecretKey(CKK.GENERIC_SECRET, KEY_LENGTH, [CKA.SIGN], AUDIT_KEY_LABEL, id),
    );
    return this.keyOf(handle, from);
  }

  private keyOf(handle: ObjectHandle, from: number): AuditKey {
    return { from, mac: (data) => this.session.sign(CKM.SHA256_HMAC, handle, data, MAC_LENGTH) };
  }
}
