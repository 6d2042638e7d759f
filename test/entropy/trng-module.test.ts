import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DeviceSource } from "../../src/entropy/device-source.js";
import { computeCutoffs, STARTUP_SAMPLES } from "../../src/entropy/health/cutoffs.js";
import type { HealthTests } from "../../src/entropy/health/health-tests.js";
import { ReferenceHealthTests } from "../../src/entropy/health/reference.js";
import { SimdHealthTests } from "../../src/entropy/health/simd.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { TrngModule } from "../../src/entropy/trng-module.js";
import { EntropyError, ExitCode } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

/** mulberry32, seeded: a known stream in which every window of a few bytes identifies its position. */
function knownStream(length: number, seed = 1): Uint8Array {
  let a = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

/** A source serving a fixed stream in order, recording every target it filled. */
class StreamSource implements EntropySource {
  readonly name = "test-stream";
  position = 0;
  readonly filled: Uint8Array[] = [];
  /** Set to make fill reject (after writing `partial` bytes), as a broken device would. */
  failWith: unknown = null;
  partial = 0;

  constructor(
    readonly stream: Uint8Array,
    readonly minEntropy = 4,
  ) {}

  fill(target: Uint8Array): Promise<void> {
    this.filled.push(target);
    if (this.failWith !== null) {
      target.set(this.take(Math.min(this.partial, target.length)));
      return Promise.reject(this.failWith);
    }
    target.set(this.take(target.length));
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private take(length: number): Uint8Array {
    if (this.position + length > this.stream.length) throw new Error("test stream exhausted");
    const out = this.stream.subarray(this.position, this.position + length);
    this.position += length;
    return out;
  }
}

/** The stream with `length` copies of `value` written at `at`. */
function withRun(stream: Uint8Array, at: number, length: number, value: number): Uint8Array {
  const out = stream.slice();
  out.fill(value, at, at + length);
  // Keep the run exactly `length` long.
  if (out[at - 1] === value) out[at - 1] = value ^ 1;
  if (out[at + length] === value) out[at + length] = value ^ 1;
  return out;
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

const CUTOFFS = computeCutoffs(4); // what a source claiming H = 4 gets: RCT 11, APT 78/512

const IMPLEMENTATIONS: readonly { name: string; make: () => HealthTests }[] = [
  { name: "reference tests", make: () => new ReferenceHealthTests(CUTOFFS) },
  { name: "SIMD tests", make: () => new SimdHealthTests(CUTOFFS, 1 << 16) },
];

function assertEntropyError(error: unknown, code: string, pattern?: RegExp): true {
  assert.ok(error instanceof EntropyError, `expected an EntropyError, got ${String(error)}`);
  assert.equal(error.exitCode, ExitCode.entropy);
  assert.equal(error.exitCode, 5);
  assert.equal(error.code, code);
  if (pattern) assert.match(error.message, pattern);
  return true;
}

describe("TrngModule", () => {
  for (const impl of IMPLEMENTATIONS) {
    describe(impl.name, () => {
      test("the start-up test consumes >= 1024 samples, none of which is ever handed out", async () => {
        const stream = knownStream(STARTUP_SAMPLES + (1 << 16));
        const source = new StreamSource(stream);
        const trng = new TrngModule(source, impl.make());
        const handedOut: Uint8Array[] = [];
        for (const length of [1, 100, 4096, 3, 2000]) {
          const target = new Uint8Array(length);
          await trng.fill(target);
          handedOut.push(target);
        }
        const startup = source.filled[0];
        assert.ok(startup, "the source was read");
        assert.ok(
          startup.length >= STARTUP_SAMPLES && STARTUP_SAMPLES >= 1024,
          "start-up draws >= 1024 samples",
        );
        assert.ok(isZero(startup), "the start-up samples are zeroed once tested");
        // Everything the caller got is the stream right after the start-up samples, in order.
        const served = Buffer.concat(handedOut);
        assert.deepEqual(
          served,
          Buffer.from(stream.subarray(startup.length, startup.length + served.length)),
        );
        assert.equal(source.position, startup.length + served.length, "no sample is skipped or read twice");
        // And no stretch of the start-up samples shows up in what was served.
        const discarded = Buffer.from(stream.subarray(0, startup.length));
        for (let i = 0; i + 8 <= discarded.length; i += 8) {
          assert.equal(
            served.indexOf(discarded.subarray(i, i + 8)),
            -1,
            `start-up bytes ${i}.. were handed out`,
          );
        }
      });

      test("a start-up failure hands out nothing and latches", async () => {
        const stream = withRun(knownStream(STARTUP_SAMPLES + 8192), 500, CUTOFFS.rct, 0x3c);
        const source = new StreamSource(stream);
        const trng = new TrngModule(source, impl.make());
        const target = new Uint8Array(64);
        await assert.rejects(trng.fill(target), (error) =>
          assertEntropyError(
            error,
            "entropy-health-test-failed",
            /start-up health test \(repetition count test/,
          ),
        );
        assert.ok(isZero(target), "nothing reached the caller");
        assert.ok(isZero(source.filled[0] ?? new Uint8Array(1)), "the failed start-up samples are zeroed");
        const reads = source.filled.length;
        await assert.rejects(trng.fill(target), EntropyError);
        assert.equal(source.filled.length, reads, "a latched module reads nothing more");
      });

      test("a run split between the start-up samples and the first batch is still caught", async () => {
        const stream = withRun(knownStream(STARTUP_SAMPLES + 8192), STARTUP_SAMPLES - 5, CUTOFFS.rct, 0x3c);
        const trng = new TrngModule(new StreamSource(stream), impl.make());
        const target = new Uint8Array(64);
        await assert.rejects(trng.fill(target), (error) =>
          assertEntropyError(error, "entropy-health-test-failed", /continuous health test/),
        );
        assert.ok(isZero(target));
      });

      for (const [kind, placed] of [
        ["plain memory", (_trng: TrngModule, n: number) => new Uint8Array(n)],
        ["memory from allocate()", (trng: TrngModule, n: number) => trng.allocate(n)],
        ["a Buffer", (_trng: TrngModule, n: number) => Buffer.alloc(n)],
      ] as const) {
        test(`a failing batch is zeroed and nothing from it is handed out (${kind})`, async () => {
          // The run sits in the middle of the caller's second batch.
          const at = STARTUP_SAMPLES + 300 + 150;
          const stream = withRun(knownStream(STARTUP_SAMPLES + (1 << 14)), at, CUTOFFS.rct, 0xe7);
          const source = new StreamSource(stream);
          const trng = new TrngModule(source, impl.make());
          const first = placed(trng, 300);
          await trng.fill(first);
          assert.deepEqual([...first], [...stream.subarray(STARTUP_SAMPLES, STARTUP_SAMPLES + 300)]);
          const second = placed(trng, 300);
          await assert.rejects(trng.fill(second), (error) =>
            assertEntropyError(error, "entropy-health-test-failed", /repetition count test: 11 identical/),
          );
          assert.equal(source.filled.at(-1), second, "the source wrote straight into the batch");
          assert.ok(isZero(second), "the failed batch is zeroed");
        });
      }

      test("an adaptive proportion failure is reported as such and zeroes the batch", async () => {
        const stream = knownStream(STARTUP_SAMPLES + (1 << 14));
        // The window starting 2048 samples after start-up (a multiple of 512) opens with 0x21 and holds 78 of them.
        const start = STARTUP_SAMPLES + 2048;
        stream.fill(0x20, start, start + 512);
        for (let i = 0; i < 512; i++)
          stream[start + i] = i % 2 === 0 && i < 2 * CUTOFFS.apt ? 0x21 : 0x22 + (i % 200);
        const trng = new TrngModule(new StreamSource(stream), impl.make());
        await trng.fill(new Uint8Array(start - STARTUP_SAMPLES));
        const target = new Uint8Array(1024);
        await assert.rejects(trng.fill(target), (error) =>
          assertEntropyError(error, "entropy-health-test-failed", /adaptive proportion test: 78 copies/),
        );
        assert.ok(isZero(target));
      });

      test("after one trip every later fill throws, even when the source recovers", async () => {
        const at = STARTUP_SAMPLES + 10;
        const stream = withRun(knownStream(STARTUP_SAMPLES + (1 << 14)), at, CUTOFFS.rct, 0x00);
        const source = new StreamSource(stream);
        const trng = new TrngModule(source, impl.make());
        let first: unknown;
        await assert.rejects(trng.fill(new Uint8Array(100)), (error) => {
          first = error;
          return assertEntropyError(error, "entropy-health-test-failed");
        });
        const reads = source.filled.length;
        // The stream after the run is healthy again; the module stays shut.
        for (const length of [1, 16, 1000]) {
          const target = new Uint8Array(length);
          await assert.rejects(trng.fill(target), (error) => error === first);
          assert.ok(isZero(target));
        }
        assert.equal(source.filled.length, reads, "the source is not read again");
      });

      test("a source that throws gives an EntropyError (exit 5), zeroes the batch and latches", async () => {
        const source = new StreamSource(knownStream(STARTUP_SAMPLES + (1 << 14)));
        const trng = new TrngModule(source, impl.make());
        await trng.fill(new Uint8Array(10));
        source.failWith = new Error("EIO: the device went away");
        source.partial = 40;
        const target = new Uint8Array(100);
        await assert.rejects(trng.fill(target), (error) =>
          assertEntropyError(error, "entropy-failure", /the device went away/),
        );
        assert.ok(isZero(target), "bytes the source wrote before failing are zeroed");
        source.failWith = null;
        await assert.rejects(trng.fill(new Uint8Array(10)), EntropyError);
      });

      test("a source's own EntropyError passes through unchanged", async () => {
        const source = new StreamSource(knownStream(STARTUP_SAMPLES + 4096));
        const failure = new EntropyError("entropy source test ended (no more samples)");
        source.failWith = failure;
        const trng = new TrngModule(source, impl.make());
        await assert.rejects(trng.fill(new Uint8Array(10)), (error) => error === failure);
        await assert.rejects(trng.fill(new Uint8Array(10)), (error) => error === failure);
      });
    });
  }

  test("TrngModule.over takes its cutoffs from the source's min-entropy", () => {
    for (const h of [1, 2, 4, 8]) {
      const trng = TrngModule.over(new StreamSource(new Uint8Array(0), h), 1024);
      assert.deepEqual(trng.tests.cutoffs, computeCutoffs(h));
    }
  });

  test("a stuck source fails the RCT at start-up; a 30% biased source fails the APT", async () => {
    const stuck = TrngModule.over(new StreamSource(new Uint8Array(1 << 14).fill(0x55)));
    await assert.rejects(stuck.fill(new Uint8Array(32)), (error) =>
      assertEntropyError(error, "entropy-health-test-failed", /start-up.*repetition count/),
    );
    const biased = knownStream(STARTUP_SAMPLES + (1 << 16), 9);
    for (let i = 0; i < biased.length; i += 10) {
      // Every 10th sample and two more of every 10 are 0x5a, never two in a row.
      biased[i] = 0x5a;
      biased[i + 3] = 0x5a;
      biased[i + 6] = 0x5a;
    }
    const trng = TrngModule.over(new StreamSource(biased));
    await assert.rejects(trng.fill(new Uint8Array(32)), (error) =>
      assertEntropyError(error, "entropy-health-test-failed", /adaptive proportion/),
    );
  });

  test("a device that ends or cannot be opened gives an EntropyError (exit 5)", async (t) => {
    const { dir } = tempDir(t);
    const path = join(dir, "short-device");
    writeFileSync(path, knownStream(STARTUP_SAMPLES + 100));
    const short = TrngModule.over(new DeviceSource(path, 4));
    t.after(() => short.close());
    const target = new Uint8Array(100);
    await short.fill(target);
    assert.deepEqual([...target], [...knownStream(STARTUP_SAMPLES + 100).subarray(STARTUP_SAMPLES)]);
    const more = new Uint8Array(50);
    await assert.rejects(short.fill(more), (error) => assertEntropyError(error, "entropy-failure", /ended/));
    assert.ok(isZero(more));

    const tooShort = TrngModule.over(new DeviceSource(join(dir, "tiny"), 4));
    writeFileSync(join(dir, "tiny"), knownStream(STARTUP_SAMPLES - 1));
    t.after(() => tooShort.close());
    await assert.rejects(tooShort.fill(new Uint8Array(1)), (error) =>
      assertEntropyError(error, "entropy-failure", /ended/),
    );

    const missing = TrngModule.over(new DeviceSource(join(dir, "missing"), 4));
    await assert.rejects(missing.fill(new Uint8Array(1)), (error) =>
      assertEntropyError(error, "entropy-failure", /cannot open/),
    );
  });
});
