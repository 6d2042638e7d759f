import { randomBytes } from "node:crypto";
import type { Sealer } from "../sealer.js";

/**
 * Where a store's sealing key lives: `kek` a key-encryption key file the user gives (§5.4), `tpm`
 * an AES-256 key sealed to the store's TPM, `pkcs11` a non-extractable AES-256 key in the store's
 * token. Specified in docs/spec.md §5.4.
 */
export type SealingKeyKind = "kek" | "tpm" | "pkcs11";
export const SEALING_KEY_KINDS: readonly SealingKeyKind[] = ["kek", "tpm", "pkcs11"];

/** A new key's id in a TPM or token: 8 random bytes in hex, as a key-encryption key's id is 8 hash bytes. */
export function newKeyId(): string {
  return randomBytes(8).toString("hex");
}

/** Which key seals a store, as store.json remembers it: its home and its id (status.sealingKey). */
export interface SealingKeyRef {
  readonly key: SealingKeyKind;
  readonly id: string;
}

/**
 * A backend's own home for sealing keys (the TPM's storage hierarchy, the token): keys are made
 * and used there, and never leave it in clear (the TPM's, unsealed through the encrypted session,
 * lives only in this process while the store is open).
 */
export interface SealingKeyHome {
  readonly kind: Exclude<SealingKeyKind, "kek">;
  /**
   * Makes a new key named `id` (16 hex digits, chosen by the caller so that store.json can name it
   * before it exists), durable before this returns, and a sealer over it.
   */
  create(id: string): Promise<Sealer>;
  /** A sealer over key `id`: exit 6 store-key-missing when the key is not there, store-key-wrong when it is not that key. */
  open(id: string): Promise<Sealer>;
  /** Destroys key `id`, durably; a key already gone is no error. */
  destroy(id: string): Promise<void>;
  /**
   * Destroys every key of reid's in this home but `keep`: what a crash between naming a new key
   * and destroying the old one left behind (docs/spec.md §5.4, step 6).
   */
  sweep(keep: string | null): Promise<void>;
  /** Forgets whatever secret the home holds for the connection (an owner password's copy). */
  close(): void;
}

/** How a home's kind is named in messages and status. */
export function sealingKeyName(kind: SealingKeyKind): string {
  return kind === "kek"
    ? "the key-encryption key"
    : kind === "tpm"
      ? "an AES-256 key sealed to the TPM"
      : "an AES-256 key inside the PKCS#11 token";
}
