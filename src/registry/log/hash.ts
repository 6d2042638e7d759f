import { hash } from "node:crypto";

/**
 * The identity log's hashing, RFC 9162 §2.1.1 with SHA-256: a leaf is hashed behind 0x00 and an
 * interior node behind 0x01, so no leaf can pass for a subtree (the second-preimage attack of
 * trees that hash both alike). docs/spec.md §10.12. One-shot hashes (crypto.hash): a server
 * rebuilding the tree of a million leaves at start hashes a million nodes.
 */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);

/** MTH of an empty tree: the hash of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export function leafHash(leaf: Uint8Array): Uint8Array {
  return sha256(Buffer.concat([LEAF_PREFIX, leaf]));
}

/** 0x01 || left || right, written into one buffer of its own each time (a caller may keep the hash). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + 2 * HASH_SIZE);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
}

function sha256(data: Uint8Array): Uint8Array {
  return hash("sha256", data, "buffer") as unknown as Uint8Array;
}
