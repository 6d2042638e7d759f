import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { describe, test } from "node:test";
import { FifoCache } from "../../src/entropy/fifo-cache.js";
import { ExitCode, UsageError } from "../../src/errors.js";
import {
  bitsPerSymbol,
  DEFAULT_RAW_LENGTH,
  defaultFormat,
  type FormatKind,
  formatName,
  type IdentifierFormat,
  MIN_ENTROPY_BITS,
  minimumLength,
  parseFormat,
  processRandom,
  type ReadRandom,
  sampleSymbols,
} from "../../src/format/format.js";

const DIGITS = "0123456789";
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// ---------------------------------------------------------------------------------------------
// Sources of bytes.

/** A deterministic uniform byte stream (AES-256-CTR keystream), so the statistics never flake. */
function keystream(seed: string): ReadRandom & { served: number } {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const read = (length: number) => {
    read.served += length;
    return Promise.resolve(new Uint8Array(cipher.update(Buffer.alloc(length))));
  };
  read.served = 0;
  return read;
}

/** Serves `stream` in order, each byte once, and keeps every batch it handed out. */
function recordingReader(stream: Uint8Array) {
  let position = 0;
  const batches: Uint8Array[] = [];
  const read: ReadRandom = (length) => {
    assert.ok(position + length <= stream.length, "the test stream ran out");
    const batch = stream.slice(position, position + length);
    position += length;
    batches.push(batch);
    return Promise.resolve(batch);
  };
  return { read, batches, consumed: () => position };
}

// ---------------------------------------------------------------------------------------------
// Chi-square goodness of fit.

function lnGamma(z: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~15 digits for z > 0.5.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const x = z - 1;
  let sum = c[0] ?? 0;
  for (let i = 1; i < 9; i++) sum += (c[i] ?? 0) / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Q(a, x), the regularized upper incomplete gamma function (series / continued fraction). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  // Lentz's continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return front * h;
}

/** The p-value of a chi-square test of `counts` against the uniform distribution. */
function uniformityPValue(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  const statistic = counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
  return gammaQ((counts.length - 1) / 2, statistic / 2);
}

const SIGNIFICANCE = 0.001;

/** Symbol frequencies (and frequencies of adjacent pairs) over many outputs. */
function tally(outputs: readonly Uint8Array[], alphabet: string) {
  const k = alphabet.length;
  const index = new Map([...alphabet].map((ch, i) => [ch.charCodeAt(0), i]));
  const singles = new Array<number>(k).fill(0);
  const pairs = new Array<number>(k * k).fill(0);
  let symbols = 0;
  for (const output of outputs) {
    let previous = -1;
    for (const code of output) {
      const i = index.get(code);
      assert.ok(i !== undefined, `byte ${code} is not in the alphabet ${alphabet}`);
      singles[i] = (singles[i] ?? 0) + 1;
      // Disjoint pairs (0-1, 2-3, ...), so the pair counts are independent draws.
      if (previous >= 0) {
        pairs[previous * k + i] = (pairs[previous * k + i] ?? 0) + 1;
        previous = -1;
      } else {
        previous = i;
      }
      symbols++;
    }
  }
  return { singles, pairs, symbols };
}

/** Samplers that map bytes to symbols the wrong way, to show the checker rejects them. */
const BAD_SAMPLERS = {
  /** b % k without rejection: for k = 10, 0..5 come up 26 times in 256, 6..9 only 25. */
  modulo: async (alphabet: string, count: number, read: ReadRandom) => {
    const bytes = await read(count);
    return Uint8Array.from(bytes, (b) => alphabet.charCodeAt(b % alphabet.length));
  },
  /** Scaling by rounding: the two end symbols get half the share of the others. */
  rounding: async (alphabet: string, count: number, read: ReadRandom) => {
    const bytes = await read(count);
    return Uint8Array.from(bytes, (b) => alphabet.charCodeAt(Math.round((b / 255) * (alphabet.length - 1))));
  },
};

async function generate(
  sampler: (alphabet: string, count: number, read: ReadRandom) => Promise<Uint8Array>,
  alphabet: string,
  length: number,
  outputs: number,
  seed: string,
): Promise<Uint8Array[]> {
  const read = keystream(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < outputs; i++) out.push(await sampler(alphabet, length, read));
  return out;
}

/** Our sampler, reached the way the element reaches it: processRandom with a format. */
const ours =
  (kind: Exclude<FormatKind, "raw">) =>
  (_alphabet: string, count: number, read: ReadRandom): Promise<Uint8Array> =>
    processRandom({ kind, length: count }, read);

// ---------------------------------------------------------------------------------------------

function assertUsageError(fn: () => unknown, mention: string): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.usage);
    assert.equal(error.exitCode, 2);
    assert.ok(error.message.includes(mention), `the message names '${mention}': ${error.message}`);
    return true;
  });
}

/** The smallest N with base^N >= 2^128, in exact integer arithmetic. */
function exactMinimum(base: bigint): number {
  const target = 1n << BigInt(MIN_ENTROPY_BITS);
  let n = 0;
  for (let power = 1n; power < target; power *= base) n++;
  return n;
}

describe("identifier formats", () => {
  describe("parseFormat", () => {
    test("accepts raw, digits, base32 with and without N; defaults: raw 32, text = capacity", () => {
      assert.equal(DEFAULT_RAW_LENGTH, 32);
      const capacity = 64;
      assert.deepEqual(parseFormat("raw", capacity), { kind: "raw", length: 32 });
      assert.deepEqual(parseFormat("digits", capacity), { kind: "digits", length: capacity });
      assert.deepEqual(parseFormat("base32", capacity), { kind: "base32", length: capacity });
      assert.deepEqual(parseFormat("raw:16", capacity), { kind: "raw", length: 16 });
      assert.deepEqual(parseFormat("raw:64", capacity), { kind: "raw", length: 64 });
      assert.deepEqual(parseFormat("digits:40", capacity), { kind: "digits", length: 40 });
      assert.deepEqual(parseFormat("base32:50", capacity), { kind: "base32", length: 50 });
      assert.deepEqual(parseFormat("digits", 1000), { kind: "digits", length: 1000 });
      // A storage area smaller than 32 bytes caps the raw default.
      assert.deepEqual(parseFormat("raw", 20), { kind: "raw", length: 20 });
      assert.deepEqual(defaultFormat(64), { kind: "raw", length: 32 });
      assert.deepEqual(defaultFormat(20), { kind: "raw", length: 20 });
    });

    test("the shortest lengths carry 128 bits: computed exactly, N-1 is refused, N accepted", () => {
      const minimums: [FormatKind, number][] = [
        ["raw", exactMinimum(256n)],
        ["digits", exactMinimum(10n)],
        ["base32", exactMinimum(32n)],
      ];
      for (const [kind, n] of minimums) {
        assert.equal(minimumLength(kind), n, kind);
        assert.ok(n * bitsPerSymbol(kind) >= MIN_ENTROPY_BITS);
        assert.ok((n - 1) * bitsPerSymbol(kind) < MIN_ENTROPY_BITS);
        assert.deepEqual(parseFormat(`${kind}:${n}`, 4096), { kind, length: n });
        assertUsageError(() => parseFormat(`${kind}:${n - 1}`, 4096), `${kind}:${n - 1}`);
        assertUsageError(() => parseFormat(`${kind}:0`, 4096), `${kind}:0`);
        // Default lengths below the minimum are refused too (a small storage area).
        assertUsageError(() => parseFormat(kind, n - 1), kind);
        assert.deepEqual(parseFormat(kind, n), { kind, length: n });
      }
      assert.equal(MIN_ENTROPY_BITS, 128);
    });

    test("lengths above the storage area's capacity are refused", () => {
      for (const kind of ["raw", "digits", "base32"] as const) {
        assert.deepEqual(parseFormat(`${kind}:100`, 100), { kind, length: 100 });
        assertUsageError(() => parseFormat(`${kind}:101`, 100), `${kind}:101`);
        assertUsageError(() => parseFormat(`${kind}:999999`, 100), `${kind}:999999`);
      }
    });

    test("malformed formats are refused with a usage error naming them", () => {
      const bad = [
        "",
        "raw:",
        "RAW",
        "Digits",
        "hex",
        "base64",
        "encrypted:32",
        "raw:abc",
        "raw:-16",
        "raw:+16",
        "raw:16.0",
        "raw:1e2",
        "raw: 16",
        " raw",
        "raw ",
        "raw:16:1",
        "raw=16",
        "digits,40",
        "raw:1234567",
        "base32:0x20",
        "raw\n",
      ];
      // The message names the text as given; the CLI escapes control characters when it prints.
      for (const text of bad) assertUsageError(() => parseFormat(text, 4096), `--format '${text}'`);
    });

    test("formatName writes what parseFormat reads", () => {
      for (const format of [
        { kind: "raw", length: 16 },
        { kind: "digits", length: 39 },
        { kind: "base32", length: 64 },
      ] as const) {
        assert.deepEqual(parseFormat(formatName(format), 64), format);
      }
    });
  });

  describe("processRandom", () => {
    test("raw takes exactly N bytes, and they are the identifier", async () => {
      for (const length of [16, 32, 33, 64]) {
        const stream = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff);
        const reader = recordingReader(stream);
        const identifier = await processRandom({ kind: "raw", length }, reader.read);
        assert.equal(reader.consumed(), length, "exactly N bytes are read");
        assert.equal(reader.batches.length, 1);
        assert.deepEqual([...identifier], [...stream.subarray(0, length)]);
      }
    });

    test("digits and base32 produce N characters of their alphabet only", async () => {
      const read = keystream("alphabet");
      for (const [kind, alphabet] of [
        ["digits", DIGITS],
        ["base32", BASE32],
      ] as const) {
        for (const length of [minimumLength(kind), 64, 1000]) {
          for (let i = 0; i < 50; i++) {
            const identifier = await processRandom({ kind, length }, read);
            assert.equal(identifier.length, length);
            const text = Buffer.from(identifier).toString("latin1");
            assert.ok(
              [...text].every((ch) => alphabet.includes(ch)),
              `${kind}: ${text}`,
            );
          }
        }
      }
    });

    test("rejection sampling consumes bytes in order, drops those >= 250 for digits, reuses none", async () => {
      // A counter stream: every byte value in turn, 250..255 included.
      const stream = Uint8Array.from({ length: 20000 }, (_, i) => i & 0xff);
      for (const length of [39, 250, 600, 4000]) {
        const reader = recordingReader(stream);
        const identifier = await processRandom({ kind: "digits", length }, reader.read);
        const accepted = [...stream.subarray(0, reader.consumed())].filter((b) => b < 250);
        assert.ok(accepted.length >= length, "enough bytes were read");
        const expected = accepted.slice(0, length).map((b) => DIGITS.charCodeAt(b % 10));
        assert.deepEqual([...identifier], expected, "symbol i comes from the i-th accepted byte");
        for (const batch of reader.batches)
          assert.ok(
            batch.every((b) => b === 0),
            "spent batches are zeroed",
          );
      }
      // base32 divides 256: no byte is rejected, byte i gives symbol i.
      const reader = recordingReader(stream);
      const identifier = await processRandom({ kind: "base32", length: 300 }, reader.read);
      const expected = [...stream.subarray(0, 300)].map((b) => BASE32.charCodeAt(b % 32));
      assert.deepEqual([...identifier], expected);
    });

    test("a long stretch of rejected bytes only means more reads, never a reused byte", async () => {
      const stream = new Uint8Array(5000).fill(0);
      for (let i = 0; i < 3000; i++) stream[i] = 250 + (i % 6);
      for (let i = 3000; i < stream.length; i++) stream[i] = (i * 7) % 250;
      const reader = recordingReader(stream);
      const identifier = await sampleSymbols(DIGITS, 100, reader.read);
      assert.ok(reader.batches.length > 1, "it read again after rejecting everything");
      const expected = [...stream.subarray(3000, 3100)].map((b) => DIGITS.charCodeAt(b % 10));
      assert.deepEqual([...identifier], expected);
    });

    test("through the FIFO: symbols come from the FIFO's bytes in order, each byte once", async () => {
      let position = 0;
      const supply = {
        fill: async (target: Uint8Array) => {
          for (let i = 0; i < target.length; i++) target[i] = (position++ * 7) & 0xff;
        },
      };
      const fifo = new FifoCache(supply, new Uint8Array(256), 64);
      const read: ReadRandom = (length) => fifo.read(length);
      const first = await processRandom({ kind: "digits", length: 200 }, read);
      const second = await processRandom({ kind: "digits", length: 200 }, read);
      const all = Array.from({ length: position }, (_, i) => (i * 7) & 0xff);
      // The sampler asks for more than it needs and throws the rest away; the FIFO never serves
      // those bytes again, so the second identifier starts after everything the first read.
      const servedToFirst = Math.ceil((200 * 256) / 250) + 4;
      const fromFirst = all.slice(0, servedToFirst).filter((b) => b < 250);
      assert.deepEqual(
        [...first],
        fromFirst.slice(0, 200).map((b) => DIGITS.charCodeAt(b % 10)),
      );
      const fromSecond = all.slice(servedToFirst).filter((b) => b < 250);
      assert.deepEqual(
        [...second],
        fromSecond.slice(0, 200).map((b) => DIGITS.charCodeAt(b % 10)),
      );
    });
  });

  describe("uniformity (chi-square at p = 0.001)", () => {
    test("the p-value function is right: closed forms for even degrees of freedom", () => {
      // For df = 2m: P(chi2 > x) = exp(-x/2) * sum_{j<m} (x/2)^j / j!
      for (const df of [2, 4, 10, 32, 100]) {
        for (const x of [0.5, 3, df, df + 10, 3 * df]) {
          let term = 1;
          let sum = 1;
          for (let j = 1; j < df / 2; j++) {
            term *= x / 2 / j;
            sum += term;
          }
          const exact = Math.exp(-x / 2) * sum;
          const p = gammaQ(df / 2, x / 2);
          assert.ok(Math.abs(p - exact) <= 1e-9 * Math.max(1, exact), `df ${df}, x ${x}: ${p} vs ${exact}`);
        }
      }
    });

    const SYMBOLS = 1_000_000;
    const LENGTH = 1000;

    for (const [kind, alphabet, bad] of [
      ["digits", DIGITS, "modulo"],
      ["base32", BASE32, "rounding"],
    ] as const) {
      test(`${kind}: ${SYMBOLS} symbols pass; the ${bad} sampler fails on the same amount of data`, async () => {
        const good = tally(
          await generate(ours(kind), alphabet, LENGTH, SYMBOLS / LENGTH, `good ${kind}`),
          alphabet,
        );
        assert.equal(good.symbols, SYMBOLS);
        const pSingles = uniformityPValue(good.singles);
        const pPairs = uniformityPValue(good.pairs);
        assert.ok(pSingles > SIGNIFICANCE, `${kind} symbols are not uniform: p = ${pSingles}`);
        assert.ok(pPairs > SIGNIFICANCE, `${kind} pairs are not uniform: p = ${pPairs}`);

        const biased = tally(
          await generate(BAD_SAMPLERS[bad], alphabet, LENGTH, SYMBOLS / LENGTH, `bad ${kind}`),
          alphabet,
        );
        assert.equal(biased.symbols, SYMBOLS);
        const pBad = uniformityPValue(biased.singles);
        assert.ok(pBad < SIGNIFICANCE, `the checker missed the ${bad} sampler's bias: p = ${pBad}`);
      });
    }

    test("digits: the modulo sampler's bias is invisible to the checker only when it should be", async () => {
      // Sanity of the checker in the other direction: modulo by 32 on uniform bytes IS uniform
      // (32 divides 256), and the checker must not flag it.
      const outputs = await generate(BAD_SAMPLERS.modulo, BASE32, LENGTH, SYMBOLS / LENGTH, "modulo 32");
      const p = uniformityPValue(tally(outputs, BASE32).singles);
      assert.ok(p > SIGNIFICANCE, `p = ${p}`);
    });

    test("every position of a short identifier is uniform, not just the symbols overall", async () => {
      const read = keystream("positions");
      const length = minimumLength("digits");
      const counts = Array.from({ length }, () => new Array<number>(10).fill(0));
      for (let i = 0; i < 20000; i++) {
        const identifier = await processRandom({ kind: "digits", length } satisfies IdentifierFormat, read);
        identifier.forEach((code, position) => {
          const row = counts[position];
          if (row) row[code - 48] = (row[code - 48] ?? 0) + 1;
        });
      }
      // A Bonferroni-corrected threshold over the positions.
      for (const [position, row] of counts.entries()) {
        const p = uniformityPValue(row);
        assert.ok(p > SIGNIFICANCE / length, `position ${position}: p = ${p}`);
      }
    });
  });
});
