import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { FifoCache, type SampleSupply } from "../../src/entropy/fifo-cache.js";
import { computeCutoffs, STARTUP_SAMPLES } from "../../src/entropy/health/cutoffs.js";
import { ReferenceHealthTests } from "../../src/entropy/health/reference.js";
import { openRandomSupply } from "../../src/entropy/open.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { TrngModule } from "../../src/entropy/trng-module.js";

/** A fixed pseudo-random byte stream (a linear congruential generator's top bytes). */
function lcgStream(length: number, seed: number): Uint8Array {
  const stream = new Uint8Array(length);
  let a = seed;
  for (let i = 0; i < stream.length; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    stream[i] = a >>> 24;
  }
  return stream;
}

import { EntropyError } from "../../src/errors.js";

/**
 * The counter stream: word n is n written as three base-255 digits, each + 1. The words increase
 * strictly and no byte is ever 0, so a zero in the ring is always a zeroed byte.
 */
function streamBytes(from: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const p = from + i;
    const word = Math.floor(p / 3);
    const digit = [Math.floor(word / 65025), Math.floor(word / 255), word][p % 3] ?? 0;
    out[i] = 1 + (digit % 255);
  }
  return out;
}

function words(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 <= bytes.length; i += 3) {
    out.push(((bytes[i] ?? 0) - 1) * 65025 + ((bytes[i + 1] ?? 0) - 1) * 255 + ((bytes[i + 2] ?? 0) - 1));
  }
  return out;
}

interface Call {
  readonly target: Uint8Array;
  readonly length: number;
  /** What the FIFO still held when it asked. */
  readonly available: number;
}

/** Serves the counter stream in order, asynchronously, recording every call. */
class CounterSupply implements SampleSupply {
  position = 0;
  readonly calls: Call[] = [];
  fifo: FifoCache | null = null;
  /** Makes call number `failAt` (0-based) write `partial` bytes and then reject. */
  failAt = -1;
  partial = 0;
  readonly failure = new EntropyError("entropy source test failed its continuous health test");
  /** Runs during a fill, before it completes. */
  during: (() => void) | null = null;

  async fill(target: Uint8Array): Promise<void> {
    const index = this.calls.length;
    this.calls.push({ target, length: target.length, available: this.fifo?.available ?? -1 });
    await tick();
    this.during?.();
    if (index === this.failAt) {
      target.set(this.take(Math.min(this.partial, target.length)));
      throw this.failure;
    }
    target.set(this.take(target.length));
  }

  private take(length: number): Uint8Array {
    const out = streamBytes(this.position, length);
    this.position += length;
    return out;
  }
}

function fifoOver(capacity: number, refill: number) {
  const supply = new CounterSupply();
  const ring = new Uint8Array(capacity);
  const fifo = new FifoCache(supply, ring, refill);
  supply.fifo = fifo;
  return { supply, ring, fifo };
}

/**
 * The ring holds zeroes except the bytes still waiting, which are the stream's next ones,
 * contiguous modulo the capacity.
 */
function assertRingHoldsOnlyWaiting(ring: Uint8Array, waiting: Uint8Array, label: string): void {
  const nonzero = ring.reduce((n, b) => n + (b === 0 ? 0 : 1), 0);
  assert.equal(
    nonzero,
    waiting.length,
    `${label}: ${nonzero} non-zero bytes in the ring, ${waiting.length} waiting`,
  );
  if (waiting.length === 0) return;
  const found = ring.some((_, start) => waiting.every((b, i) => ring[(start + i) % ring.length] === b));
  assert.ok(found, `${label}: the waiting bytes are not the stream's next ones`);
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

const PIECES = [1, 3, 7, 13, 31, 63, 127, 250, 5, 99, 101, 2, 17];

describe("FifoCache", () => {
  for (const [capacity, refill] of [
    [1, 0],
    [7, 3],
    [100, 64],
    [64, 64],
    [100, 1000],
    [4096, 64],
  ] as const) {
    test(`capacity ${capacity}, refill ${refill}: every byte served once, in source order; served bytes zeroed`, async () => {
      const { supply, ring, fifo } = fifoOver(capacity, refill);
      const served: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < 40; i++) {
        const piece = PIECES[i % PIECES.length] ?? 1;
        const bytes = await fifo.read(piece);
        assert.equal(bytes.length, piece);
        served.push(bytes);
        total += piece;
        assert.equal(supply.position - fifo.available, total, "everything drawn is served or waiting");
        assertRingHoldsOnlyWaiting(ring, streamBytes(total, fifo.available), `after ${total} bytes`);
      }
      const all = Buffer.concat(served);
      assert.deepEqual(all, Buffer.from(streamBytes(0, total)), "the concatenation is the source stream");
      const counted = words(all);
      counted.forEach((word, i) => {
        assert.equal(word, i, "no repeats, no gaps");
      });
    });
  }

  test("readInto fills a caller's buffer, Buffers and subarrays included", async () => {
    const { fifo } = fifoOver(50, 8);
    const big = Buffer.alloc(300);
    await fifo.readInto(big.subarray(0, 120));
    await fifo.readInto(big.subarray(120));
    assert.deepEqual(big, Buffer.from(streamBytes(0, 300)));
  });

  test("only an empty FIFO asks the source, and a read that fits asks nothing", async () => {
    const { supply, fifo } = fifoOver(100, 10);
    assert.equal(fifo.available, 0);
    await fifo.read(0);
    assert.equal(supply.calls.length, 0, "a zero-byte read draws nothing");
    await fifo.read(4);
    assert.equal(supply.calls.length, 1, "an empty FIFO draws");
    const waiting = fifo.available;
    assert.ok(waiting > 0, "the draw brought at least the refill amount");
    await fifo.read(waiting - 1);
    await fifo.read(1);
    assert.equal(supply.calls.length, 1, "reads that fit in what is waiting draw nothing");
    assert.equal(fifo.available, 0);
    await fifo.read(1);
    assert.equal(supply.calls.length, 2, "emptied: the next read draws");
    // A read larger than what waits serves what waits first, then draws.
    await fifo.read(fifo.available + 250);
    assert.ok(supply.calls.length > 2);
    for (const [i, call] of supply.calls.entries()) {
      assert.equal(call.available, 0, `call ${i} came while ${call.available} bytes were waiting`);
    }
    // Draws ask for at least the refill amount (capped by the capacity), at least what is missing.
    assert.ok(supply.calls.every((call) => call.length >= 1 && call.length <= 100));
  });

  test("wrap-around: a draw that reaches the end of the ring continues at its start", async () => {
    const { supply, ring, fifo } = fifoOver(100, 64);
    assert.deepEqual([...(await fifo.read(64))], [...streamBytes(0, 64)]);
    const wrapped = await fifo.read(64);
    assert.deepEqual([...wrapped], [...streamBytes(64, 64)]);
    const [, tail, head] = supply.calls;
    assert.ok(tail && head, "the wrapped draw is two fills");
    assert.equal(supply.calls.length, 3);
    assert.equal(tail.target.buffer, ring.buffer);
    assert.equal(tail.target.byteOffset - ring.byteOffset, 64, "the first part starts at the read pointer");
    assert.equal(tail.length, 36, "and runs to the end of the ring");
    assert.equal(head.target.byteOffset - ring.byteOffset, 0, "the second part starts at the ring's start");
    assert.equal(head.length, 28);
    // Keep going round several times.
    const more = await fifo.read(1000);
    assert.deepEqual([...more], [...streamBytes(128, 1000)]);
    assertRingHoldsOnlyWaiting(ring, streamBytes(1128, fifo.available), "after several turns");
  });

  for (const [where, failAt, partial] of [
    ["the first draw", 0, 10],
    ["the first half of a wrapped draw", 1, 20],
    ["the second half of a wrapped draw", 2, 5],
  ] as const) {
    test(`a failing supply (${where}) leaves nothing readable and the ring zeroed`, async () => {
      const { supply, ring, fifo } = fifoOver(100, 64);
      supply.failAt = failAt;
      supply.partial = partial;
      if (failAt > 0) assert.deepEqual([...(await fifo.read(64))], [...streamBytes(0, 64)]);
      const target = new Uint8Array(80);
      await assert.rejects(fifo.readInto(target), (error) => error === supply.failure);
      assert.equal(fifo.available, 0, "nothing is left to read");
      assert.ok(isZero(ring), "the ring is zeroed");
      assert.ok(isZero(target), "nothing of the failed read reaches the caller");
      // A later read (the supply works again) gets only samples drawn after the failure.
      const after = supply.position;
      assert.deepEqual([...(await fifo.read(30))], [...streamBytes(after, 30)]);
    });
  }

  test("a read that was partly served before the supply failed is zeroed", async () => {
    const { supply, ring, fifo } = fifoOver(100, 10);
    await fifo.read(5); // 5 bytes wait
    supply.failAt = 1;
    supply.partial = 4;
    const target = new Uint8Array(20);
    await assert.rejects(fifo.readInto(target), (error) => error === supply.failure);
    assert.ok(isZero(target), "the 5 bytes served first are wiped with the rest");
    assert.ok(isZero(ring));
    assert.equal(fifo.available, 0);
  });

  test("concurrent reads are served one after the other: each byte once, none zeroed", async () => {
    const { supply, ring, fifo } = fifoOver(100, 64);
    const sizes = [40, 40, 1, 90, 64, 7, 200, 3];
    const results = await Promise.all(sizes.map((size) => fifo.read(size)));
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.deepEqual(Buffer.concat(results), Buffer.from(streamBytes(0, total)), "served in call order");
    assert.equal(supply.position - fifo.available, total);
    assertRingHoldsOnlyWaiting(ring, streamBytes(total, fifo.available), "after concurrent reads");
  });

  test("clear() zeroes what waits; cleared bytes are never served", async () => {
    const { supply, ring, fifo } = fifoOver(100, 50);
    await fifo.read(10);
    assert.equal(fifo.available, 40);
    fifo.clear();
    assert.equal(fifo.available, 0);
    assert.ok(isZero(ring));
    const drawn = supply.position;
    assert.deepEqual([...(await fifo.read(10))], [...streamBytes(drawn, 10)]);
    // Cleared while a draw is under way: what that draw brought is thrown away too.
    const { supply: slow, ring: slowRing, fifo: slowFifo } = fifoOver(100, 50);
    slow.during = () => {
      if (slow.calls.length === 1) slowFifo.clear();
    };
    const bytes = await slowFifo.read(10);
    assert.equal(slow.calls.length, 2, "the cleared draw was followed by a fresh one");
    assert.deepEqual([...bytes], [...streamBytes(50, 10)]);
    assertRingHoldsOnlyWaiting(slowRing, streamBytes(60, slowFifo.available), "after a clear mid-draw");
  });

  test("bad construction is refused", () => {
    const supply = new CounterSupply();
    assert.throws(() => new FifoCache(supply, new Uint8Array(0)), RangeError);
    for (const refill of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new FifoCache(supply, new Uint8Array(8), refill), RangeError, `refill ${refill}`);
    }
    const fifo = new FifoCache(supply, new Uint8Array(8));
    assert.equal(fifo.capacity, 8);
    assert.equal(fifo.available, 0);
  });

  test("over a TRNG module whose source trips: the read fails, the ring is zeroed, and stays shut", async () => {
    const stream = lcgStream(STARTUP_SAMPLES + (1 << 14), 7);
    const run = STARTUP_SAMPLES + 64 + 10;
    stream.fill(0xaa, run, run + 11);
    let position = 0;
    const source: EntropySource = {
      name: "test",
      minEntropy: 4,
      fill: async (target) => {
        target.set(stream.subarray(position, position + target.length));
        position += target.length;
      },
      close: async () => {},
    };
    const trng = new TrngModule(source, new ReferenceHealthTests(computeCutoffs(4)));
    const ring = new Uint8Array(256);
    const fifo = new FifoCache(trng, ring, 64);
    assert.deepEqual([...(await fifo.read(64))], [...stream.subarray(STARTUP_SAMPLES, STARTUP_SAMPLES + 64)]);
    await assert.rejects(fifo.read(10), (error) => error instanceof EntropyError && error.exitCode === 5);
    assert.ok(isZero(ring));
    assert.equal(fifo.available, 0);
    await assert.rejects(fifo.read(1), EntropyError);
  });

  test("openRandomSupply: source -> TRNG -> FIFO serves the samples after start-up, in order", async () => {
    const stream = lcgStream(STARTUP_SAMPLES + (1 << 15), 99);
    let position = 0;
    let closed = false;
    const source: EntropySource = {
      name: "test",
      minEntropy: 4,
      fill: async (target) => {
        target.set(stream.subarray(position, position + target.length));
        position += target.length;
      },
      close: async () => {
        closed = true;
      },
    };
    const supply = openRandomSupply(source, { capacity: 4096, refill: 64 });
    const served: Uint8Array[] = [];
    for (const piece of PIECES) served.push(await supply.fifo.read(piece * 7));
    const all = Buffer.concat(served);
    assert.deepEqual(all, Buffer.from(stream.subarray(STARTUP_SAMPLES, STARTUP_SAMPLES + all.length)));
    await supply.close();
    assert.ok(closed);
    assert.equal(supply.fifo.available, 0);
  });
});
