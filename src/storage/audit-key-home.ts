/**
 * Where a store's audit key lives (docs/spec.md §9.7): in the TPM (an NV index under the owner
 * PIN's authValue, read through the encrypted session), in the token (a secret key that never
 * leaves it: the token computes the MAC), or, for the file store, a secret file beside the log. The
 * audit log asks it for the key's MAC; the key is made once, by the owner's `pin set`, and from then
 * on every record carries a MAC, except those a process without the owner's proof appends where
 * the key needs that proof (the TPM's): they are the unkeyed tail, sealed by the next proven process.
 */
export interface AuditKey {
  /** HMAC-SHA-256 of `data` under the key (32 bytes). */
  mac(data: Uint8Array): Buffer;
  /** The first record (its seq) the key was made to key: every record from it on carries a MAC. */
  readonly from: number;
}

/** A key that is there but needs the owner's proof, which this process does not hold (yet). */
export const LOCKED = "locked";

export interface AuditKeyHome {
  /** Where, for messages ("the TPM's NV index 0x01524503"). */
  readonly description: string;
  /**
   * Whether the key can be locked away from a process without the owner's proof, so that records
   * after the last seal may lack MACs (the unkeyed tail); elsewhere a record without one is forged.
   */
  readonly tails?: boolean;
  /** The key, null when none was made, or LOCKED when it needs a proof this process does not hold. */
  load(): Promise<AuditKey | null | typeof LOCKED>;
  /** Whether the key is to be loaded again, now that this process holds a proof (its home moves it). */
  due?(): Promise<boolean>;
  /** Makes the key, to key records from `from` on (a key already there is kept). */
  create(from: number): Promise<AuditKey>;
}
