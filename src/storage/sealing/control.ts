import type { SealingKeyKind, SealingKeyRef } from "./key-home.js";

/**
 * What the owner can do with a store's sealing (docs/spec.md §5.4): seal it, re-seal it under a
 * new key, or commit its identifier in clear again. Each change of key is crash-atomic: the new
 * key is durable before the record is committed under it, and the old one is destroyed only after.
 */
export interface SealingControl {
  /** Settles a change of key a crash left noted (a writer; nothing without one). */
  settle(): Promise<void>;
  /** Told after each commit whether it was sealed: a key-encryption key that sealed it is named. */
  committed(sealed: boolean): void;
  /** The key store.json names (else a key-encryption key given), without opening anything. */
  keyRef(): SealingKeyRef | null;
  /** The key that seals the store now; null when it is in clear. */
  current(): Promise<SealingKeyRef | null>;
  /**
   * Seals a store in clear under a new key of home `key` (`kek`: the key-encryption key the store
   * was opened with, the default); on a store sealed under a key of that home, proves the key
   * (opens the identifier); sealed under another home's key: exit 3 `already-sealed`.
   */
  seal(key: SealingKeyKind | null): Promise<void>;
  /**
   * Re-seals under a new key of home `key` (`kek`: the new key-encryption key given to the
   * opener); null: a new key of the current key's home.
   */
  rotate(key: SealingKeyKind | null): Promise<void>;
  /** Commits the identifier in clear again and destroys the key that sealed it. */
  unseal(): Promise<void>;
}
