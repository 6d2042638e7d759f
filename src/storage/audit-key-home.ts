/**
 * Where a store's audit key lives (docs/spec.md §9.7): in the TPM (an NV index read through the
 * encrypted session), in the token (a secret key that never leaves it: the token computes the
 * MAC), or, for the file store, a secret file beside the log. The audit log asks it for the key's
 * MAC; the key is made once, by the owner's `pin set`, and from then on every record carries a MAC.
 */
export interface AuditKey {
  /** HMAC-SHA-256 of `data` under the key (32 bytes). */
  mac(data: Uint8Array): Buffer;
  /** The first record (its seq) the key was made to key: every record from it on carries a MAC. */
  readonly from: number;
}

export interface AuditKeyHome {
  /** Where, for messages ("the TPM's NV index 0x01524503"). */
  readonly description: string;
  /** The key, or null when none was made. */
  load(): Promise<AuditKey | null>;
  /** Makes the key, to key records from `from` on (a key already there is kept). */
  create(from: number): Promise<AuditKey>;
}
