import { HASH_SIZE, nodeHash } from "./hash.js";
import { logUntrusted } from "./log-errors.js";
import { isPowerOfTwo } from "./tree.js";

/**
 * The verifier's side of RFC 9162: an inclusion proof (§2.1.3.2) and a consistency proof
 * (§2.1.4.2) checked against roots the verifier already trusts (from signed checkpoints). Sizes
 * are counted with ordinary numbers and halved by division, not by 32-bit shifts, so a log past
 * 2^31 leaves verifies too. A proof that fails is `log-untrusted`.
 */

export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (!count(index) || !count(size) || index >= size) {
    throw logUntrusted(`leaf ${index} cannot be in a log of ${size}`);
  }
  checkHashes(proof);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw logUntrusted(`the inclusion proof of leaf ${index} is too long`);
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0 || !equal(r, root)) {
    throw logUntrusted(`leaf ${index} is not in the log of ${size} the checkpoint signs`);
  }
}

export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (!count(from) || !count(to) || from < 1 || from > to) {
    throw logUntrusted(`a log of ${to} cannot extend one of ${from}`);
  }
  checkHashes(proof);
  const refuse = () => logUntrusted(`the log of ${to} does not extend the log of ${from} seen before`);
  if (from === to) {
    if (proof.length !== 0 || !equal(fromRoot, toRoot)) throw refuse();
    return;
  }
  if (proof.length === 0) throw refuse();
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) throw refuse();
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0 || !equal(fr, fromRoot) || !equal(sr, toRoot)) throw refuse();
}

function checkHashes(proof: readonly Uint8Array[]): void {
  if (proof.length > 64 || proof.some((hash) => hash.length !== HASH_SIZE)) {
    throw logUntrusted("a proof's hashes must be at most 64 of 32 bytes each");
  }
}

const count = (n: number) => Number.isSafeInteger(n) && n >= 0;
const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
