import { createHash } from "node:crypto";

/**
 * The identity log's hashing, RFC 9162 §2.1.1 with SHA-256: a leaf is hashed behind 0x00 and an
 * interior node behind 0x01, so no leaf can pass for a subtree (the second-preimage attack of
 * trees that hash both alike). docs/spec.md §10.12.
 */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** MTH of an empty tree: the hash of nothing. */
export const EMPTY_ROOT: Uint8Array = createHash("sha256").digest();

export function leafHash(leaf: Uint8Array): Uint8Array {
  return createHash("sha256").update(LEAF_PREFIX).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}
