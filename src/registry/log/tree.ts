import { EMPTY_ROOT, HASH_SIZE, nodeHash } from "./hash.js";

/**
 * The identity log's Merkle tree in memory (RFC 9162 §2.1): every complete subtree's hash is kept,
 * level by level, so a root or a proof for any size up to the tree's costs O(log² n) hash reads and
 * a few hashes, and appending costs one hash per level a leaf completes. A level is one growing
 * byte array (32 bytes a node): a million leaves take 64 MB, not two million objects.
 */
export class MerkleTree {
  /** levels[h] holds the hashes of the complete subtrees of 2^h leaves, left to right. */
  private readonly levels: HashArray[] = [new HashArray()];

  get size(): number {
    return (this.levels[0] as HashArray).length;
  }

  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) throw new Error("a leaf hash is 32 bytes");
    let index = this.size;
    (this.levels[0] as HashArray).push(leafHash);
    // Each time the new node is a right child, its parent is complete.
    for (let level = 0; index % 2 === 1; level++, index = Math.floor(index / 2)) {
      const nodes = this.levels[level] as HashArray;
      if (this.levels.length === level + 1) this.levels.push(new HashArray());
      (this.levels[level + 1] as HashArray).push(nodeHash(nodes.view(index - 1), nodes.view(index)));
    }
  }

  leafHash(index: number): Uint8Array {
    this.check(index, this.size - 1);
    return (this.levels[0] as HashArray).at(index);
  }

  /** MTH of the first `size` leaves. */
  root(size = this.size): Uint8Array {
    this.check(size, this.size);
    return size === 0 ? EMPTY_ROOT : this.subtree(0, size);
  }

  /** PATH(index, D[size]), RFC 9162 §2.1.3.1: the leaf's first sibling first. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.check(size, this.size);
    this.check(index, size - 1);
    const proof: Uint8Array[] = [];
    this.path(index, 0, size, proof);
    return proof;
  }

  /** PROOF(from, D[to]), RFC 9162 §2.1.4.1, for 1 ≤ from ≤ to. */
  consistencyProof(from: number, to: number): Uint8Array[] {
    this.check(to, this.size);
    if (from < 1) throw new RangeError("a consistency proof starts from a tree of one leaf or more");
    this.check(from, to);
    const proof: Uint8Array[] = [];
    this.subproof(from, 0, to, true, proof);
    return proof;
  }

  private path(index: number, start: number, size: number, proof: Uint8Array[]): void {
    if (size === 1) return;
    const k = splitOf(size);
    if (index < k) {
      this.path(index, start, k, proof);
      proof.push(this.subtree(start + k, size - k));
    } else {
      this.path(index - k, start + k, size - k, proof);
      proof.push(this.subtree(start, k));
    }
  }

  private subproof(from: number, start: number, size: number, whole: boolean, proof: Uint8Array[]): void {
    if (from === size) {
      if (!whole) proof.push(this.subtree(start, size));
      return;
    }
    const k = splitOf(size);
    if (from <= k) {
      this.subproof(from, start, k, whole, proof);
      proof.push(this.subtree(start + k, size - k));
    } else {
      this.subproof(from - k, start + k, size - k, false, proof);
      proof.push(this.subtree(start, k));
    }
  }

  /**
   * MTH(D[start : start+size]) for the ranges the RFC's recursion asks: a complete, aligned subtree
   * is read; any other is its left (complete) part joined to the rest.
   */
  private subtree(start: number, size: number): Uint8Array {
    if (isPowerOfTwo(size) && start % size === 0) {
      return (this.levels[Math.log2(size)] as HashArray).at(start / size);
    }
    const k = splitOf(size);
    return nodeHash(this.subtree(start, k), this.subtree(start + k, size - k));
  }

  private check(value: number, max: number): void {
    if (!Number.isSafeInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${value} is outside the tree (0 to ${max})`);
    }
  }
}

/** The largest power of two below n (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitOf(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** 32-byte hashes back to back in one buffer that doubles as it fills. */
class HashArray {
  private bytes = new Uint8Array(HASH_SIZE * 64);
  length = 0;

  push(hash: Uint8Array): void {
    if ((this.length + 1) * HASH_SIZE > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(hash, this.length * HASH_SIZE);
    this.length++;
  }

  /** A copy: a caller who changes it cannot change the tree. */
  at(index: number): Uint8Array {
    return this.bytes.slice(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  /** The tree's own bytes, for hashing at once (a push may move them). */
  view(index: number): Uint8Array {
    return this.bytes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }
}
