import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { ConcatenatedCode, packBits, unpackBits } from "../../src/factory/puf/concatenated-code.js";
import {
  CORRECTABLE_PATTERNS,
  GOLAY_N,
  golayDecode,
  golayEncode,
  golaySyndrome,
} from "../../src/factory/puf/golay.js";

function weight(word: number): number {
  let n = 0;
  for (let x = word; x; x >>>= 1) n += x & 1;
  return n;
}

/** Every error pattern of exactly `w` bits among 24, as masks. */
function patterns(w: number, from = 0, mask = 0, out: number[] = []): number[] {
  if (w === 0) out.push(mask);
  else for (let bit = from; bit <= GOLAY_N - w; bit++) patterns(w - 1, bit + 1, mask | (1 << bit), out);
  return out;
}

test("golay: the code's weight distribution is the extended Golay code's (1, 759, 2576, 759, 1)", () => {
  const counts = new Map<number, number>();
  for (let m = 0; m < 4096; m++) {
    const w = weight(golayEncode(m));
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  assert.deepEqual(
    [...counts.entries()].sort((a, b) => a[0] - b[0]),
    [
      [0, 1],
      [8, 759],
      [12, 2576],
      [16, 759],
      [24, 1],
    ],
  );
});

test("golay: known answers, self-duality and the syndrome of every codeword is zero", () => {
  // The generator's rows: message bit 11 gives 1000 0000 0000 | 1101 1100 0101.
  assert.equal(golayEncode(0x800), 0x800dc5);
  assert.equal(golayEncode(0x001), 0x001ffe);
  // The all-ones word is in the code (its weight-24 word).
  assert.equal(golayEncode(0xfff), 0xffffff);
  const words = Array.from({ length: 4096 }, (_, m) => golayEncode(m));
  for (const word of words) assert.equal(golaySyndrome(word), 0);
  // Self-dual: every two codewords overlap in an even number of positions (rows suffice).
  const rows = Array.from({ length: 12 }, (_, i) => golayEncode(1 << i));
  for (const a of rows) for (const b of rows) assert.equal(weight(a & b) % 2, 0);
  assert.equal(CORRECTABLE_PATTERNS, 1 + 24 + 276 + 2024);
});

test("golay: every error pattern of weight up to 3 is corrected, on 66 codewords", () => {
  const messages = [0, 0xfff, ...Array.from({ length: 64 }, () => randomInt(4096))];
  const correctable = [0, 1, 2, 3].flatMap((w) => patterns(w));
  assert.equal(correctable.length, 2325);
  for (const m of messages) {
    const c = golayEncode(m);
    for (const e of correctable) assert.equal(golayDecode(c ^ e), c);
  }
});

test("golay: every weight-4 pattern is detected (null), never miscorrected", () => {
  const four = patterns(4);
  assert.equal(four.length, 10626);
  for (const m of [0, 0xa5c, randomInt(4096)]) {
    const c = golayEncode(m);
    for (const e of four) assert.equal(golayDecode(c ^ e), null);
  }
});

test("golay: five errors always decode to another codeword (why the extractor needs its check value)", () => {
  const c = golayEncode(0x3c3);
  for (const e of patterns(5).slice(0, 2000)) {
    const decoded = golayDecode(c ^ e);
    assert.ok(decoded !== null && decoded !== c && weight(decoded ^ c) === 8);
  }
});

test("golay: out-of-range input is refused", () => {
  assert.throws(() => golayEncode(4096), RangeError);
  assert.throws(() => golayEncode(-1), RangeError);
  assert.throws(() => golayDecode(1 << 24), RangeError);
  assert.throws(() => golayDecode(0.5), RangeError);
});

test("concatenated code: random error patterns up to its capacity decode; one more wrong vote per block is detected", () => {
  const code = new ConcatenatedCode(11, 11);
  const half = (code.repetition - 1) / 2;
  for (let trial = 0; trial < 300; trial++) {
    const message = Uint8Array.from({ length: code.messageBits }, () => randomInt(2));
    const word = code.encode(message);
    for (let block = 0; block < code.blocks; block++) {
      // Up to 3 votes per block turned (more than half their cells flipped)...
      const turned = new Set<number>();
      while (turned.size < randomInt(4)) turned.add(randomInt(GOLAY_N));
      for (let bit = 0; bit < GOLAY_N; bit++) {
        const start = (block * GOLAY_N + bit) * code.repetition;
        const flips = turned.has(bit) ? half + 1 + randomInt(half + 1) : randomInt(half + 1);
        const cells = new Set<number>();
        while (cells.size < flips) cells.add(randomInt(code.repetition));
        for (const cell of cells) word[start + cell] = (word[start + cell] as number) ^ 1;
      }
    }
    assert.deepEqual(code.decode(word), message);
  }
  // Four votes turned in one block: detected, whatever the rest.
  const word = code.encode(new Uint8Array(code.messageBits));
  for (const bit of [0, 5, 9, 23]) word.fill(1, bit * code.repetition, (bit + 1) * code.repetition);
  assert.equal(code.decode(word), null);
});

test("concatenated code: bit packing round-trips; bad shapes are refused", () => {
  const bits = Uint8Array.from({ length: 2904 }, () => randomInt(2));
  assert.deepEqual(unpackBits(packBits(bits), bits.length), bits);
  assert.deepEqual(packBits(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1, 1])), Uint8Array.from([0x81, 0x80]));
  assert.throws(() => unpackBits(new Uint8Array(3), 30), RangeError);
  assert.throws(() => new ConcatenatedCode(11, 4), RangeError);
  assert.throws(() => new ConcatenatedCode(0, 3), RangeError);
  const code = new ConcatenatedCode(2, 3);
  assert.throws(() => code.encode(new Uint8Array(23)), RangeError);
  assert.throws(() => code.decode(new Uint8Array(143)), RangeError);
});
