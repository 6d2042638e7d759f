// The identity log's Merkle tree and its verifier (docs/spec.md §10.12) held to the published
// RFC 6962 test data (the Certificate Transparency reference tree of eight leaves: its roots, audit
// paths and consistency proofs), then to the RFC's own recursive definitions for every index and
// size of trees up to 70 leaves, and each verifier shown refusing what is wrong.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { EMPTY_ROOT, leafHash, nodeHash } from "../../../src/registry/log/hash.js";
import { MerkleTree, splitOf } from "../../../src/registry/log/tree.js";
import { verifyConsistency, verifyInclusion } from "../../../src/registry/log/verify.js";

const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((hex) => Buffer.from(hex, "hex"));
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const INCLUSION: [number, number, string[]][] = [
  [0, 1, []],
  [
    0,
    8,
    [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  ],
  [
    5,
    8,
    [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  ],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [
    1,
    5,
    [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  ],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, INCLUSION[1]?.[2] as string[]],
  [
    6,
    8,
    [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  ],
  [
    2,
    5,
    [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  ],
];

const hex = (hashes: readonly Uint8Array[]) => hashes.map((hash) => Buffer.from(hash).toString("hex"));
const unhex = (hashes: readonly string[]) => hashes.map((hash) => Buffer.from(hash, "hex"));
const root = (size: number) => Buffer.from(ROOTS[size] as string, "hex");
/** Flips one of the hash's 256 bits. */
function flip(hash: Buffer, bit: number): void {
  const at = Math.floor(bit / 8) % 32;
  hash.writeUInt8(hash.readUInt8(at) ^ (1 << (bit % 8)), at);
}
const untrusted = (error: Error & { code?: string }) => error.code === "log-untrusted";

function treeOf(leaves: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree();
  for (const leaf of leaves) tree.append(leafHash(leaf));
  return tree;
}

describe("the RFC 6962 reference tree", () => {
  const tree = treeOf(LEAVES);

  test("roots of every size, the empty one included", () => {
    assert.deepEqual(hex([EMPTY_ROOT]), [ROOTS[0]]);
    for (let size = 0; size <= 8; size++)
      assert.equal(hex([tree.root(size)])[0], ROOTS[size], `size ${size}`);
  });

  test("audit paths are the published ones, and verify", () => {
    for (const [index, size, path] of INCLUSION) {
      assert.deepEqual(hex(tree.inclusionProof(index, size)), path, `${index} in ${size}`);
      verifyInclusion(leafHash(LEAVES[index] as Uint8Array), index, size, unhex(path), root(size));
    }
  });

  test("consistency proofs are the published ones, and verify", () => {
    for (const [from, to, path] of CONSISTENCY) {
      assert.deepEqual(hex(tree.consistencyProof(from, to)), path, `${from} to ${to}`);
      verifyConsistency(from, to, root(from), root(to), unhex(path));
    }
  });

  test("a wrong leaf, index, size, root or hash, or a proof cut or lengthened, is refused", () => {
    const [, , path] = INCLUSION[2] as [number, number, string[]];
    const proof = unhex(path);
    const leaf = leafHash(LEAVES[5] as Uint8Array);
    verifyInclusion(leaf, 5, 8, proof, root(8));
    const refused = (fn: () => void) => assert.throws(fn, untrusted);
    refused(() => verifyInclusion(leafHash(LEAVES[4] as Uint8Array), 5, 8, proof, root(8)));
    refused(() => verifyInclusion(leaf, 4, 8, proof, root(8)));
    refused(() => verifyInclusion(leaf, 5, 7, proof, root(7)));
    refused(() => verifyInclusion(leaf, 5, 8, proof, root(7)));
    refused(() => verifyInclusion(leaf, 8, 8, proof, root(8)));
    refused(() => verifyInclusion(leaf, 5, 8, proof.slice(1), root(8)));
    refused(() => verifyInclusion(leaf, 5, 8, [...proof, root(1)], root(8)));
    const flipped = proof.map((hash) => Buffer.from(hash));
    flip(flipped[1] as Buffer, 0);
    refused(() => verifyInclusion(leaf, 5, 8, flipped, root(8)));

    const consistency = unhex((CONSISTENCY[2] as [number, number, string[]])[2]);
    verifyConsistency(6, 8, root(6), root(8), consistency);
    refused(() => verifyConsistency(6, 8, root(5), root(8), consistency));
    refused(() => verifyConsistency(6, 8, root(6), root(7), consistency));
    refused(() => verifyConsistency(5, 8, root(5), root(8), consistency));
    refused(() => verifyConsistency(6, 8, root(6), root(8), consistency.slice(0, 2)));
    refused(() => verifyConsistency(6, 8, root(6), root(8), []));
    refused(() => verifyConsistency(8, 6, root(8), root(6), consistency));
    refused(() => verifyConsistency(0, 8, root(0), root(8), consistency));
    refused(() => verifyConsistency(8, 8, root(8), root(7), []));
  });
});

// RFC 9162's definitions, word for word and slow: what the tree must agree with everywhere.
function mth(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  if (hashes.length === 1) return hashes[0] as Uint8Array;
  const k = splitOf(hashes.length);
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

function refPath(m: number, hashes: readonly Uint8Array[]): Uint8Array[] {
  if (hashes.length === 1) return [];
  const k = splitOf(hashes.length);
  return m < k
    ? [...refPath(m, hashes.slice(0, k)), mth(hashes.slice(k))]
    : [...refPath(m - k, hashes.slice(k)), mth(hashes.slice(0, k))];
}

function refSubproof(m: number, hashes: readonly Uint8Array[], whole: boolean): Uint8Array[] {
  if (m === hashes.length) return whole ? [] : [mth(hashes)];
  const k = splitOf(hashes.length);
  return m <= k
    ? [...refSubproof(m, hashes.slice(0, k), whole), mth(hashes.slice(k))]
    : [...refSubproof(m - k, hashes.slice(k), false), mth(hashes.slice(0, k))];
}

describe("every index and size of trees up to 70 leaves", () => {
  const hashes = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const tree = new MerkleTree();
  for (const hash of hashes) tree.append(hash);

  test("roots, paths and consistency proofs are the RFC's and verify", () => {
    for (let size = 1; size <= 70; size++) {
      const prefix = hashes.slice(0, size);
      const sizeRoot = mth(prefix);
      assert.deepEqual(hex([tree.root(size)]), hex([sizeRoot]));
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        assert.deepEqual(hex(proof), hex(refPath(index, prefix)));
        verifyInclusion(hashes[index] as Uint8Array, index, size, proof, sizeRoot);
      }
      for (let from = 1; from <= size; from++) {
        const proof = tree.consistencyProof(from, size);
        assert.deepEqual(hex(proof), hex(refSubproof(from, prefix, true)));
        verifyConsistency(from, size, tree.root(from), sizeRoot, proof);
      }
    }
  });

  test("any single flipped bit in a proof is refused", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 70 }), fc.nat(), fc.nat(), fc.nat(255), (size, a, b, bit) => {
        const index = a % size;
        const from = 1 + (b % (size - 1));
        const inclusion = tree.inclusionProof(index, size).map((hash) => Buffer.from(hash));
        const consistency = tree.consistencyProof(from, size).map((hash) => Buffer.from(hash));
        if (inclusion.length > 0) {
          flip(inclusion[bit % inclusion.length] as Buffer, bit);
          assert.throws(
            () => verifyInclusion(hashes[index] as Uint8Array, index, size, inclusion, tree.root(size)),
            untrusted,
          );
        }
        flip(consistency[bit % consistency.length] as Buffer, bit);
        assert.throws(
          () => verifyConsistency(from, size, tree.root(from), tree.root(size), consistency),
          untrusted,
        );
      }),
    );
  });

  test("sizes and indexes outside the tree are refused", () => {
    assert.throws(() => tree.root(71), RangeError);
    assert.throws(() => tree.inclusionProof(5, 5), RangeError);
    assert.throws(() => tree.consistencyProof(0, 5), RangeError);
    assert.throws(() => tree.consistencyProof(6, 5), RangeError);
    assert.throws(() => tree.append(new Uint8Array(31)), /32 bytes/);
  });
});
