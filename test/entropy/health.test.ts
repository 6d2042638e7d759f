import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createHealthTests } from "../../src/entropy/health/create.js";
import { type Cutoffs, computeCutoffs } from "../../src/entropy/health/cutoffs.js";
import type { HealthTestName, HealthTests } from "../../src/entropy/health/health-tests.js";
import { ReferenceHealthTests } from "../../src/entropy/health/reference.js";
import { SimdHealthTests, simdAvailable } from "../../src/entropy/health/simd.js";

// ---------------------------------------------------------------------------------------------
// Deterministic data (seeded, so a failure can be replayed).

/** mulberry32: a small seeded generator, plenty for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function uniformBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = random() & 0xff;
  return out;
}

/**
 * Samples that can trip nothing on their own: never equal to their predecessor (no runs) and
 * never one of `avoid`, so the values under test are placed only where a test puts them.
 */
class Builder {
  private readonly bytes: number[] = [];
  constructor(
    private readonly random: () => number,
    private readonly avoid: readonly number[] = [],
  ) {}

  noise(length: number): this {
    for (let i = 0; i < length; i++) {
      let b: number;
      do b = this.random() & 0xff;
      while (b === this.bytes[this.bytes.length - 1] || this.avoid.includes(b));
      this.bytes.push(b);
    }
    return this;
  }

  repeat(value: number, length: number): this {
    for (let i = 0; i < length; i++) this.bytes.push(value);
    return this;
  }

  /** Noise with `value` at the given positions (relative to the current end). */
  sprinkle(value: number, length: number, positions: Iterable<number>): this {
    const start = this.bytes.length;
    const at = new Set(positions);
    for (let i = 0; i < length; i++) {
      if (at.has(i)) this.bytes.push(value);
      else this.noise(1);
    }
    assert.equal(this.bytes.length, start + length);
    return this;
  }

  get length(): number {
    return this.bytes.length;
  }

  build(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function cutoffsOf(rct: number, apt: number, window: number): Cutoffs {
  return { minEntropy: 1, alpha: 2 ** -20, rct, apt, window };
}

/** The production cutoffs, the standard's own at H = 8, a long-run set, and odd hand-made ones. */
const CUTOFF_SETS: readonly Cutoffs[] = [
  computeCutoffs(4), // rct 11, apt 78, W 512
  computeCutoffs(8, 2 ** -20), // rct 4, apt 13, W 512
  computeCutoffs(1), // rct 41, apt 336: runs span whole 16-sample blocks
  cutoffsOf(2, 3, 16),
  cutoffsOf(16, 20, 100),
  cutoffsOf(17, 9, 37),
  cutoffsOf(18, 40, 512),
];

// ---------------------------------------------------------------------------------------------
// Feeding an implementation in batches.

interface Impl {
  readonly name: string;
  make(cutoffs: Cutoffs): HealthTests;
}

const IMPLEMENTATIONS: readonly Impl[] = [
  { name: "reference", make: (cutoffs) => new ReferenceHealthTests(cutoffs) },
  { name: "simd", make: (cutoffs) => new SimdHealthTests(cutoffs) },
  {
    name: "simd in place",
    make: (cutoffs) => {
      const simd = new SimdHealthTests(cutoffs, 1 << 16);
      // Copy every batch into the tests' own memory first, as the FIFO does with its ring.
      return {
        cutoffs,
        check: (samples) => {
          const view = simd.allocate(samples.length);
          view.set(samples);
          return simd.check(view);
        },
        state: () => simd.state(),
        allocate: (length) => simd.allocate(length),
      };
    },
  },
];

/** Splits `length` samples into consecutive batch sizes following `sizes` cyclically. */
function split(length: number, sizes: readonly number[]): number[] {
  const out: number[] = [];
  let done = 0;
  for (let i = 0; done < length; i++) {
    const size = Math.min(sizes[i % sizes.length] ?? 1, length - done);
    out.push(size);
    done += size;
  }
  return out;
}

/** The verdict of each batch, stopping after the first trip. */
function verdicts(tests: HealthTests, data: Uint8Array, sizes: readonly number[]): (HealthTestName | null)[] {
  const out: (HealthTestName | null)[] = [];
  let offset = 0;
  for (const size of split(data.length, sizes)) {
    const verdict = tests.check(data.subarray(offset, offset + size));
    out.push(verdict);
    offset += size;
    if (verdict) break;
  }
  return out;
}

/** The first verdict over the whole stream and the index of the batch it came from. */
function firstTrip(tests: HealthTests, data: Uint8Array, sizes: readonly number[] = [data.length]) {
  const all = verdicts(tests, data, sizes);
  const last = all[all.length - 1] ?? null;
  return { verdict: last, batch: last ? all.length - 1 : -1 };
}

// ---------------------------------------------------------------------------------------------
// Differential testing: the SIMD implementation against the reference.

type Mode = "copy" | "in place";

/**
 * Feeds `data` to the reference and to a fresh SIMD instance in the same batches and asserts
 * the same verdict after every batch and, while nothing tripped, the same carried state. In
 * place, batches are copied into allocate()d memory starting `shift` bytes into it, so the
 * batch start takes every alignment. Returns the reference's verdict.
 */
function differential(
  cutoffs: Cutoffs,
  data: Uint8Array,
  sizes: readonly number[],
  mode: Mode,
  label: string,
  shift = 0,
): HealthTestName | null {
  const batches = split(data.length, sizes);
  const largest = Math.max(0, ...batches);
  const reference = new ReferenceHealthTests(cutoffs);
  const simd = new SimdHealthTests(cutoffs, mode === "in place" ? largest + shift + 16 : 0);
  const arena = mode === "in place" ? simd.allocate(largest + shift) : null;
  let offset = 0;
  for (const [index, size] of batches.entries()) {
    const batch = data.subarray(offset, offset + size);
    const expected = reference.check(batch);
    let actual: HealthTestName | null;
    if (arena) {
      const view = arena.subarray(shift, shift + size);
      view.set(batch);
      actual = simd.check(view);
    } else {
      actual = simd.check(batch);
    }
    const where = `${label}, ${mode}, shift ${shift}, batch ${index} at ${offset} (${size} samples)`;
    assert.equal(actual, expected, `verdict differs: ${where}`);
    if (expected) return expected;
    assert.deepEqual(simd.state(), reference.state(), `state differs: ${where}`);
    offset += size;
  }
  return null;
}

const SPLITS: readonly (readonly number[])[] = [
  [1],
  [15],
  [16],
  [17],
  [511],
  [512],
  [513],
  [3, 29, 1, 64, 7],
];

// ---------------------------------------------------------------------------------------------

describe("health tests", () => {
  test("WebAssembly SIMD is available here, and createHealthTests picks it", () => {
    assert.ok(simdAvailable(), "Node 20 on this platform must run the SIMD implementation");
    const cutoffs = computeCutoffs(4);
    const tests = createHealthTests(cutoffs, 4096);
    assert.ok(tests instanceof SimdHealthTests);
    assert.equal(tests.cutoffs, cutoffs);
  });

  for (const impl of IMPLEMENTATIONS) {
    describe(`${impl.name}: SP 800-90B 4.4 as written`, () => {
      for (const cutoffs of CUTOFF_SETS.slice(0, 2)) {
        const { rct, apt, window } = cutoffs;
        const label = `rct ${rct}, apt ${apt}`;

        test(`RCT (${label}): a run of exactly C trips, C-1 does not, wherever it lies`, () => {
          for (let offset = 0; offset < 40; offset++) {
            for (const value of [0x00, 0x5a, 0xff]) {
              const random = prng(offset * 1000 + value);
              const tripping = new Builder(random, [value])
                .noise(offset)
                .repeat(value, rct)
                .noise(40)
                .build();
              const healthy = new Builder(random, [value])
                .noise(offset)
                .repeat(value, rct - 1)
                .noise(40)
                .build();
              assert.equal(
                firstTrip(impl.make(cutoffs), tripping).verdict,
                "repetition-count",
                `at ${offset}`,
              );
              assert.equal(firstTrip(impl.make(cutoffs), healthy).verdict, null, `at ${offset}`);
            }
          }
        });

        test(`RCT (${label}): only consecutive samples count, and a run carries across batches`, () => {
          const random = prng(7);
          const broken = new Builder(random, [9, 10])
            .noise(20)
            .repeat(9, rct - 1)
            .repeat(10, 1)
            .repeat(9, rct - 1)
            .noise(20)
            .build();
          assert.equal(firstTrip(impl.make(cutoffs), broken).verdict, null);

          const data = new Builder(random, [9]).noise(33).repeat(9, rct).noise(33).build();
          const last = 33 + rct - 1; // the sample that completes the run
          for (let cut = 1; cut < data.length; cut++) {
            const tests = impl.make(cutoffs);
            const first = tests.check(data.subarray(0, cut));
            if (cut <= last) {
              assert.equal(first, null, `cut at ${cut}`);
              if (cut > 33) assert.equal(tests.state().run, cut - 33);
              assert.equal(tests.check(data.subarray(cut)), "repetition-count", `cut at ${cut}`);
            } else {
              assert.equal(first, "repetition-count", `cut at ${cut}`);
            }
          }
        });

        test(`APT (${label}): exactly C copies of the window's first sample trip, C-1 do not`, () => {
          for (let seed = 0; seed < 20; seed++) {
            const random = prng(seed);
            for (const copies of [apt - 1, apt]) {
              // The reference sample opens the window; the other copies are spread out (no runs).
              const positions = new Set<number>();
              while (positions.size < copies - 1) positions.add(2 + 2 * (random() % ((window - 2) / 2)));
              const data = new Builder(random, [0x33])
                .sprinkle(0x33, window, [0, ...positions])
                .noise(window)
                .build();
              const verdict = firstTrip(impl.make(cutoffs), data, [17]).verdict;
              assert.equal(verdict, copies >= apt ? "adaptive-proportion" : null, `${copies} copies`);
            }
          }
        });

        test(`APT (${label}): the window is ${window} samples; the ${window + 1}th opens the next`, () => {
          const random = prng(11);
          const early = Array.from({ length: apt - 2 }, (_, i) => 1 + 2 * i);
          // C-1 copies in the window plus one at its last sample (index W-1): counted, trips.
          const lastInWindow = new Builder(random, [0x77]).sprinkle(0x77, window, [0, ...early, window - 1]);
          assert.equal(
            firstTrip(impl.make(cutoffs), lastInWindow.noise(10).build()).verdict,
            "adaptive-proportion",
          );
          // The same copy one sample later (index W) opens the next window instead: no trip.
          const firstOfNext = new Builder(random, [0x77])
            .sprinkle(0x77, window, [0, ...early])
            .sprinkle(0x77, window, [0])
            .build();
          const tests = impl.make(cutoffs);
          assert.equal(tests.check(firstOfNext.subarray(0, window)), null);
          assert.deepEqual(
            { reference: tests.state().reference, count: tests.state().count, seen: tests.state().seen },
            { reference: 0x77, count: apt - 1, seen: 0 },
            "after exactly W samples the next sample starts a window",
          );
          assert.equal(tests.check(firstOfNext.subarray(window, window + 1)), null);
          assert.deepEqual(
            { reference: tests.state().reference, count: tests.state().count, seen: tests.state().seen },
            { reference: 0x77, count: 1, seen: 1 },
          );
          assert.equal(tests.check(firstOfNext.subarray(window + 1)), null);
        });

        test(`APT (${label}): only the first sample's value is counted, and counts do not carry over`, () => {
          const random = prng(12);
          const spread = Array.from({ length: apt }, (_, i) => 1 + 3 * i);
          // Window 1 opens with 0x10 and holds C copies of 0x20: no failure, 0x20 is not the reference.
          // Window 2 opens with 0x20, holds C-1 copies: no failure (window 1's copies are gone).
          // Window 3 opens with 0x20 and holds C copies: failure.
          const data = new Builder(random, [0x10, 0x20])
            .repeat(0x10, 1)
            .sprinkle(0x20, window - 1, spread)
            .sprinkle(0x20, window, [0, ...spread.slice(0, apt - 2).map((p) => p + 1)])
            .build();
          const tests = impl.make(cutoffs);
          assert.equal(tests.check(data), null);
          const third = new Builder(random, [0x20])
            .sprinkle(0x20, window, [0, ...spread.slice(0, apt - 1)])
            .build();
          assert.equal(tests.check(third), "adaptive-proportion");
        });

        test(`(${label}) a stuck source trips the RCT; a 30% biased source trips the APT`, () => {
          for (const value of [0, 0x80, 0xff]) {
            const stuck = new Uint8Array(2048).fill(value);
            assert.equal(firstTrip(impl.make(cutoffs), stuck).verdict, "repetition-count");
            assert.equal(firstTrip(impl.make(cutoffs), stuck, [rct - 1]).batch, 1);
          }
          const random = prng(13);
          const biased = new Uint8Array(8 * window);
          let previous = -1;
          for (let i = 0; i < biased.length; i++) {
            // 30% of the samples are 0xaa, never two in a row (so this is bias, not a stuck run).
            const b = previous !== 0xaa && random() % 10 < 3 ? 0xaa : 0xab + (random() % 0x55);
            biased[i] = b;
            previous = b;
          }
          const share = biased.filter((b) => b === 0xaa).length / biased.length;
          assert.ok(share > 0.2 && share < 0.3, `bias ${share}`);
          assert.equal(firstTrip(impl.make(cutoffs), biased).verdict, "adaptive-proportion");
        });
      }

      test("uniform random samples never trip the production cutoffs", () => {
        const tests = impl.make(computeCutoffs(4));
        const random = prng(99);
        for (let i = 0; i < 64; i++) assert.equal(tests.check(uniformBytes(random, 4096)), null);
      });

      test("state starts empty and carries the run and the window", () => {
        const tests = impl.make(computeCutoffs(4));
        assert.deepEqual(tests.state(), { last: -1, run: 0, reference: 0, count: 0, seen: 0 });
        assert.equal(tests.check(new Uint8Array(0)), null);
        assert.deepEqual(tests.state(), { last: -1, run: 0, reference: 0, count: 0, seen: 0 });
        assert.equal(tests.check(Uint8Array.of(5, 7, 5, 5, 5)), null);
        assert.deepEqual(tests.state(), { last: 5, run: 3, reference: 5, count: 4, seen: 5 });
      });
    });
  }

  describe("SIMD agrees with the reference (differential)", () => {
    test("uniform random data, split at many batch sizes, copied and in place", () => {
      const random = prng(1);
      const data = uniformBytes(random, 1 << 18);
      const cutoffs = computeCutoffs(4);
      for (const mode of ["copy", "in place"] as const) {
        for (const sizes of [...SPLITS, [65536], [70001], [1 << 18]]) {
          // Small batches over 16 KiB, large ones over 64 KiB.
          const part = data.subarray(0, (sizes[0] ?? 1) < 100 ? 1 << 14 : 1 << 16);
          assert.equal(differential(cutoffs, part, sizes, mode, `sizes ${sizes}`), null);
        }
        const randomSizes = Array.from({ length: 200 }, () => 1 + (random() % 3000));
        assert.equal(differential(cutoffs, data, randomSizes, mode, "random sizes"), null);
      }
      // Larger than the SIMD scratch area in one batch, from outside its memory.
      assert.equal(differential(cutoffs, data, [data.length], "copy", "one big batch"), null);
    });

    test("runs of every length around the cutoff, at every offset mod 16, across batch boundaries", () => {
      for (const [setIndex, cutoffs] of CUTOFF_SETS.entries()) {
        const { rct } = cutoffs;
        const lengths = [...new Set([rct - 2, rct - 1, rct, rct + 1, 15, 16, 17, 18, 32, 33])].filter(
          (l) => l > 0,
        );
        for (const length of lengths) {
          for (let offset = 0; offset < 34; offset++) {
            const random = prng(setIndex * 100000 + length * 100 + offset);
            const value = random() & 0xff;
            const data = new Builder(random, [value]).noise(offset).repeat(value, length).noise(40).build();
            const label = `rct ${rct}, run ${length} at ${offset}`;
            const sizes = offset % 2 ? (SPLITS[offset % SPLITS.length] ?? [1]) : [data.length];
            const mode: Mode = offset % 3 ? "copy" : "in place";
            const verdict = differential(cutoffs, data, sizes, mode, label, offset % 16);
            if (length >= rct) assert.equal(verdict, "repetition-count", label);
          }
          // Every batch boundary in and around the run, for a few offsets.
          for (const offset of [0, 15, 17]) {
            const random = prng(length * 7 + offset);
            const data = new Builder(random, [0xc3]).noise(offset).repeat(0xc3, length).noise(20).build();
            for (let cut = Math.max(1, offset - 2); cut <= offset + length + 2; cut++) {
              const label = `rct ${rct}, run ${length} at ${offset}, cut at ${cut}`;
              differential(cutoffs, data, [cut, data.length], cut % 2 ? "copy" : "in place", label, cut % 16);
            }
          }
        }
      }
    });

    test("several runs inside one block and runs that fill whole blocks", () => {
      const random = prng(3);
      for (const cutoffs of CUTOFF_SETS) {
        for (let trial = 0; trial < 150; trial++) {
          const value = random() & 0xff;
          const builder = new Builder(random, [value]);
          while (builder.length < 300) {
            // Runs of 1..cutoff+2, separated by 1..3 other samples.
            builder.repeat(value, 1 + (random() % (cutoffs.rct + 2))).noise(1 + (random() % 3));
          }
          const sizes = SPLITS[trial % SPLITS.length] ?? [1];
          differential(
            cutoffs,
            builder.build(),
            sizes,
            trial % 2 ? "copy" : "in place",
            `trial ${trial}`,
            trial % 16,
          );
        }
      }
    });

    test("windows with counts around the cutoff, window starts at every batch alignment", () => {
      for (const [setIndex, cutoffs] of CUTOFF_SETS.entries()) {
        const { apt, window } = cutoffs;
        // Copies go to even positions 2..W-2: never next to each other or to the next window's first.
        const room = Math.floor((window - 2) / 2);
        for (const copies of [apt - 2, apt - 1, apt, apt + 1].filter((c) => c >= 1 && c - 1 <= room)) {
          for (let lead = 0; lead < 33; lead++) {
            const random = prng(setIndex * 10000 + copies * 100 + lead);
            const value = random() & 0xff;
            // Window 0 is noise, window 1 opens with `value` and holds `copies` in all.
            const positions = new Set<number>();
            const placement = lead % 3;
            for (let i = 0; positions.size < copies - 1; i++) {
              if (placement === 0)
                positions.add(2 + 2 * i); // packed at the start
              else if (placement === 1)
                positions.add(2 * room - 2 * i); // packed at the end
              else positions.add(2 + 2 * (random() % room)); // anywhere
            }
            const data = new Builder(random, [value])
              .noise(window)
              .sprinkle(value, window, [0, ...positions])
              .sprinkle(value, window, [0])
              .build();
            const label = `apt ${apt}/${window}, ${copies} copies, lead ${lead}, placement ${placement}`;
            const sizes = [lead + 1, ...(SPLITS[lead % SPLITS.length] ?? [1])];
            const mode: Mode = lead % 2 ? "copy" : "in place";
            const verdict = differential(cutoffs, data, sizes, mode, label, lead % 16);
            assert.equal(verdict, copies >= apt ? "adaptive-proportion" : null, label);
          }
        }
      }
    });

    test("all-equal data, at every split", () => {
      for (const cutoffs of CUTOFF_SETS) {
        for (const value of [0, 1, 0x7f, 0xff]) {
          const data = new Uint8Array(1500).fill(value);
          for (const sizes of [...SPLITS, [cutoffs.rct - 1], [cutoffs.rct], [data.length]]) {
            for (const mode of ["copy", "in place"] as const) {
              const verdict = differential(
                cutoffs,
                data,
                sizes,
                mode,
                `value ${value}, sizes ${sizes}`,
                value % 16,
              );
              // The RCT fails at sample C_RCT, the APT at sample C_APT; a batch holding both names the RCT.
              if (cutoffs.rct <= cutoffs.apt) assert.equal(verdict, "repetition-count");
              else assert.ok(verdict !== null);
            }
          }
        }
      }
    });

    test("biased data, from slightly to grossly biased", () => {
      let seed = 0;
      for (const cutoffs of CUTOFF_SETS) {
        for (const bias of [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8]) {
          const random = prng(++seed);
          const value = random() & 0xff;
          const data = new Uint8Array(16384);
          for (let i = 0; i < data.length; i++) data[i] = random() / 2 ** 32 < bias ? value : random() & 0xff;
          for (const [index, sizes] of SPLITS.entries()) {
            const mode: Mode = index % 2 ? "copy" : "in place";
            const part = (sizes[0] ?? 1) < 100 ? data.subarray(0, 4096) : data;
            differential(cutoffs, part, sizes, mode, `bias ${bias}, sizes ${sizes}`, index);
          }
        }
      }
    });

    test("random mixtures of noise, runs and bias, random cutoffs and random batch sizes", () => {
      for (let seed = 0; seed < 400; seed++) {
        const random = prng(0x5eed0000 + seed);
        const cutoffs = CUTOFF_SETS[seed % CUTOFF_SETS.length] ?? computeCutoffs(4);
        const data = new Uint8Array(1024 + (random() % 4096));
        const value = random() & 0xff;
        for (let i = 0; i < data.length; ) {
          const kind = random() % 4;
          const length = 1 + (random() % 40);
          for (let j = 0; j < length && i < data.length; j++, i++) {
            if (kind === 0)
              data[i] = value; // a run
            else if (kind === 1)
              data[i] = random() % 3 === 0 ? value : random() & 0xff; // bias
            else data[i] = random() & 0xff; // noise
          }
        }
        const sizes = Array.from({ length: 8 }, () => 1 + (random() % 600));
        differential(cutoffs, data, sizes, seed % 2 ? "copy" : "in place", `seed ${seed}`, seed % 16);
      }
    });

    test("long windows: more matches than a byte lane can count before it is summed", () => {
      // W = 8192 makes 511 16-sample blocks per window: the byte-wide lane counters must be
      // summed before they overflow.
      for (const [index, share] of [0.8, 0.9, 0.97].entries()) {
        const cutoffs = cutoffsOf(1000, 7800, 8192);
        const random = prng(40 + index);
        const data = new Uint8Array(3 * 8192 + 77);
        for (let i = 0; i < data.length; i++) data[i] = random() / 2 ** 32 < share ? 0x99 : random() & 0xff;
        for (const sizes of [[data.length], [4096], [8191], [513], [100_000]]) {
          for (const mode of ["copy", "in place"] as const) {
            const verdict = differential(cutoffs, data, sizes, mode, `share ${share}, sizes ${sizes}`, index);
            assert.equal(verdict, share > 0.95 ? "adaptive-proportion" : null);
          }
        }
      }
      // The reference value everywhere but at one sample in 16: whichever way the window lines
      // up with the blocks, 15 lanes match in every block (15/16 of 8192 < 7800: no trip).
      for (let phase = 0; phase < 16; phase++) {
        const cutoffs = cutoffsOf(1000, 7800, 8192);
        const data = new Uint8Array(2 * 8192 + 5).fill(0x99);
        for (let i = phase + 1; i < data.length; i += 16) data[i] = 0x42 + (i % 7);
        const sizes = phase % 2 ? [data.length] : [8192 + phase];
        assert.equal(
          differential(cutoffs, data, sizes, phase % 4 < 2 ? "copy" : "in place", `phase ${phase}`),
          null,
        );
      }
    });

    test("degenerate cutoffs from a huge alpha (C_APT = 1) and tiny windows agree too", () => {
      const huge = computeCutoffs(8, 0.9);
      assert.equal(huge.apt, 1, "alpha = 0.9 leaves an APT cutoff of 1");
      const random = prng(31);
      for (const cutoffs of [huge, cutoffsOf(2, 1, 16), cutoffsOf(3, 2, 2), cutoffsOf(2, 2, 3)]) {
        for (let trial = 0; trial < 60; trial++) {
          // Mostly samples that never repeat within a window, so the verdict is not always a trip.
          const data = Uint8Array.from({ length: 40 + (random() % 2000) }, (_, i) =>
            random() % 50 === 0 ? 0 : (i * 131 + trial) & 0xff,
          );
          const sizes = SPLITS[trial % SPLITS.length] ?? [1];
          const mode: Mode = trial % 2 ? "copy" : "in place";
          differential(
            cutoffs,
            data,
            sizes,
            mode,
            `apt ${cutoffs.apt}/${cutoffs.window}, trial ${trial}`,
            trial % 16,
          );
        }
      }
      // With C_APT = 1 the APT fails on the first repeat of a window's first sample, not before.
      for (const impl of IMPLEMENTATIONS) {
        const tests = impl.make(huge);
        assert.equal(tests.check(Uint8Array.from({ length: 256 }, (_, i) => i)), null, impl.name);
        assert.equal(tests.check(Uint8Array.of(0)), "adaptive-proportion", impl.name);
      }
    });

    test("a batch larger than the SIMD scratch area: the RCT is reported even when the APT tripped earlier", () => {
      const random = prng(21);
      const cutoffs = computeCutoffs(4);
      const builder = new Builder(random, [0x44, 0x45]);
      builder.noise(1024).sprinkle(
        0x44,
        512,
        Array.from({ length: 100 }, (_, i) => 2 * i),
      );
      builder
        .noise(100_000 - builder.length)
        .repeat(0x45, cutoffs.rct)
        .noise(1000);
      const data = builder.build();
      const reference = new ReferenceHealthTests(cutoffs);
      assert.equal(reference.check(data), "repetition-count", "both tests tripped; the RCT is named");
      assert.equal(new SimdHealthTests(cutoffs).check(data), "repetition-count");
      differential(cutoffs, data, [data.length], "in place", "in place");
    });

    test("allocate() beyond the arena still gives checkable memory", () => {
      const cutoffs = computeCutoffs(4);
      const simd = new SimdHealthTests(cutoffs, 100);
      const reference = new ReferenceHealthTests(cutoffs);
      const random = prng(5);
      // The arena is rounded up to whole pages; allocate well past it.
      for (let i = 0; i < 40; i++) {
        const view = simd.allocate(4096);
        assert.equal(view.length, 4096);
        view.set(uniformBytes(random, 4096));
        assert.equal(simd.check(view), reference.check(view));
        assert.deepEqual(simd.state(), reference.state());
      }
      const stuck = simd.allocate(64).fill(1);
      assert.equal(simd.check(stuck), "repetition-count");
    });

    test("allocate() hands out disjoint memory", () => {
      const simd = new SimdHealthTests(computeCutoffs(4), 1 << 16);
      const views = [
        simd.allocate(1),
        simd.allocate(15),
        simd.allocate(16),
        simd.allocate(17),
        simd.allocate(1000),
      ];
      views.forEach((view, i) => {
        view.fill(i + 1);
      });
      views.forEach((view, i) => {
        assert.ok(
          view.every((b) => b === i + 1),
          `view ${i} was overwritten`,
        );
      });
    });
  });
});
