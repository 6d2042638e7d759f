import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FactoryError } from "../../src/errors.js";
import { factoryIdentifier } from "../../src/factory/identifier.js";
import {
  enrol,
  type HelperData,
  PUF_CODE,
  RESPONSE_BITS,
  recoverResponse,
  reproduce,
} from "../../src/factory/puf/fuzzy-extractor.js";
import { type PufConditions, SimulatedSramPuf } from "../../src/factory/puf/sram-puf.js";
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";

const RAW32 = { kind: "raw", length: 32 } as const;

/** A simulated device enrolled as a factory does it; the PUF at `conditions` for later reads. */
function device(conditions: PufConditions, seed: Uint8Array = randomBytes(32)) {
  const factory = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0.05 });
  const { helper, root } = enrol(factory.readForEnrolment());
  return { seed, helper, root, puf: new SimulatedSramPuf(seed, RESPONSE_BITS, conditions) };
}

/** Reconstructs `n` times: how many gave the enrolled root, failed clearly, or gave another (must be 0). */
function attempts(n: number, helper: HelperData, root: Uint8Array, read: () => Uint8Array) {
  const tally = { same: 0, failed: 0, wrong: 0 };
  for (let i = 0; i < n; i++) {
    try {
      const got = reproduce(read(), helper);
      if (Buffer.compare(got, root) === 0) tally.same++;
      else tally.wrong++;
    } catch (error) {
      assert.ok(error instanceof FactoryError && error.code === "puf-reconstruction-failed", String(error));
      assert.ok(!error.message.includes("\n"));
      tally.failed++;
    }
  }
  return tally;
}

test("puf-sim: a read differs from the cells' preferred values at the configured rate", () => {
  const seed = randomBytes(32);
  const reference = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0 }).read();
  const puf = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0.1 });
  let flipped = 0;
  const reads = 200;
  for (let r = 0; r < reads; r++) {
    const read = puf.read();
    for (let i = 0; i < read.length; i++) flipped += (read[i] as number) ^ (reference[i] as number);
  }
  const rate = flipped / (reads * RESPONSE_BITS);
  assert.ok(Math.abs(rate - 0.1) < 0.005, `measured bit-error rate ${rate}`);
  // Preferred values are unbiased: about half the cells prefer 1.
  const ones = reference.reduce((a, b) => a + b, 0) / RESPONSE_BITS;
  assert.ok(ones > 0.44 && ones < 0.56, `ones ${ones}`);
  // Drift adds errors: cold and old reads further from the reference.
  const cold = new SimulatedSramPuf(seed, RESPONSE_BITS, {
    bitErrorRate: 0.1,
    temperatureC: -40,
    ageYears: 10,
  });
  let coldFlips = 0;
  for (let r = 0; r < reads; r++) {
    const read = cold.read();
    for (let i = 0; i < read.length; i++) coldFlips += (read[i] as number) ^ (reference[i] as number);
  }
  const coldRate = coldFlips / (reads * RESPONSE_BITS);
  assert.ok(Math.abs(coldRate - (0.1 + 0.026 + 0.04)) < 0.006, `measured drifted rate ${coldRate}`);
  assert.throws(() => new SimulatedSramPuf(seed, 8, { bitErrorRate: 0.6 }), RangeError);
  assert.throws(() => new SimulatedSramPuf(seed.subarray(1), 8, { bitErrorRate: 0.1 }), RangeError);
});

test("puf-sim: at a 10% bit-error rate, 10,000 reconstructions give the same identifier every time", async () => {
  const { helper, root, puf } = device({ bitErrorRate: 0.1 });
  const expected = await factoryIdentifier(root, RAW32);
  for (let i = 0; i < 10_000; i++) {
    const reading = puf.read();
    const got = reproduce(reading, helper);
    const identifier = await factoryIdentifier(got, RAW32);
    assert.ok(Buffer.compare(identifier, expected) === 0, `reconstruction ${i} differs`);
  }
});

test("puf-sim: temperature and aging drift within the code's margin: of 2,000 reconstructions at most 2 fail (cleanly), none is wrong", () => {
  const { helper, root, puf } = device({ bitErrorRate: 0.08, temperatureC: -40, ageYears: 10 });
  // A read here fails about 3 times in a million (a block past the code's 3 errors), so 2,000
  // reads see a failure about once in 160 runs and three less than once in 10^7; a margin the
  // drift exhausted fails hundreds (see the 25% row of bench/puf.ts).
  const tally = attempts(2000, helper, root, () => puf.read());
  assert.equal(tally.wrong, 0, JSON.stringify(tally));
  assert.ok(tally.failed <= 2, `${tally.failed} of 2,000 reconstructions failed: ${JSON.stringify(tally)}`);
});

test("puf-sim: beyond the code's capacity reconstruction fails with a clear error, never a wrong identifier", () => {
  const { helper, root, puf } = device({ bitErrorRate: 0.4 });
  const far = attempts(1000, helper, root, () => puf.read());
  assert.equal(far.wrong, 0);
  assert.ok(far.failed >= 990, `only ${far.failed} of 1000 failed at 40%`);
  // At the edge (30%) some succeed and some fail, and still none is wrong.
  const edge = device({ bitErrorRate: 0.3 });
  const mixed = attempts(1000, edge.helper, edge.root, () => edge.puf.read());
  assert.equal(mixed.wrong, 0);
  assert.ok(mixed.failed > 0 && mixed.same > 0, JSON.stringify(mixed));
  assert.throws(() => reproduce(puf.read(), helper), /could not be reconstructed/);
});

test("puf-sim: the check value catches a block the code decodes to the wrong codeword", () => {
  const { helper, root, puf } = device({ bitErrorRate: 0 });
  const reading = puf.read();
  // Five votes of the first Golay block turned: the code corrects "3 errors" to another codeword.
  for (const bit of [0, 3, 7, 12, 20]) {
    for (let i = bit * PUF_CODE.repetition; i < (bit + 1) * PUF_CODE.repetition; i++) {
      reading[i] = (reading[i] as number) ^ 1;
    }
  }
  const unchecked = recoverResponse(reading, helper);
  assert.ok(unchecked !== null, "the code did not notice");
  assertDifferentSecret(unchecked, puf.read(), "recovered response");
  assert.throws(
    () => reproduce(reading, helper),
    (e) => e instanceof FactoryError && /does not match its check value/.test(e.message),
  );
  // The same check on a good reading passes, and a tampered check value is refused.
  assertSameSecret(reproduce(puf.read(), helper), root, "root");
  const badCheck = { ...helper, check: Uint8Array.from(helper.check, (b, i) => (i === 0 ? b ^ 1 : b)) };
  assert.throws(() => reproduce(puf.read(), badCheck), FactoryError);
});

test("puf-sim: 1,000 simulated devices give 1,000 distinct identifiers", async () => {
  const identifiers = new Set<string>();
  const offsets = new Set<string>();
  for (let d = 0; d < 1000; d++) {
    const { helper, root } = device({ bitErrorRate: 0.1 });
    identifiers.add(Buffer.from(await factoryIdentifier(root, RAW32)).toString("hex"));
    offsets.add(Buffer.from(helper.offset).toString("hex"));
  }
  assert.equal(identifiers.size, 1000);
  assert.equal(offsets.size, 1000);
});

test("puf-sim: the identity comes from the chip: enrolling it again (a new random codeword) gives the same root", () => {
  const first = device({ bitErrorRate: 0.1 });
  const again = device({ bitErrorRate: 0.1 }, first.seed);
  assertDifferentSecret(first.helper.offset, again.helper.offset, "helper data");
  assertSameSecret(again.root, first.root, "root");
  assertSameSecret(reproduce(first.puf.read(), again.helper), first.root, "root");
});

test("puf-sim: helper data alone does not give the identifier (an attacker without the chip's reads)", () => {
  const { helper, root } = device({ bitErrorRate: 0.1 });
  // The helper data holds neither the root nor any 8-byte piece of it.
  for (let i = 0; i + 8 <= root.length; i++) {
    assert.ok(!containsBytes(helper.offset, root.subarray(i, i + 8)));
    assert.ok(!containsBytes(helper.check, root.subarray(i, i + 8)));
  }
  // Guesses at a reading: all zeros, all ones, the helper itself, random bits, other chips.
  const guesses: Uint8Array[] = [
    new Uint8Array(RESPONSE_BITS),
    new Uint8Array(RESPONSE_BITS).fill(1),
    Uint8Array.from(
      { length: RESPONSE_BITS },
      (_, i) => ((helper.offset[i >> 3] as number) >> (7 - (i & 7))) & 1,
    ),
  ];
  for (let n = 0; n < 300; n++) {
    guesses.push(Uint8Array.from(randomBytes(RESPONSE_BITS), (b) => b & 1));
    guesses.push(new SimulatedSramPuf(randomBytes(32), RESPONSE_BITS, { bitErrorRate: 0 }).read());
  }
  const tally = attempts(guesses.length, helper, root, () => guesses.shift() as Uint8Array);
  assert.deepEqual(tally, { same: 0, failed: 603, wrong: 0 });
  // Its offset is balanced like noise: it tells nothing about which cells prefer 1.
  const ones = countOnes(helper.offset) / RESPONSE_BITS;
  assert.ok(ones > 0.44 && ones < 0.56, `offset ones ${ones}`);
});

function countOnes(bytes: Uint8Array): number {
  let n = 0;
  for (const byte of bytes) for (let x = byte; x; x >>= 1) n += x & 1;
  return n;
}

test("factory identifier: deterministic per root and format, different across roots, every format", async () => {
  const root = randomBytes(32);
  for (const format of [
    RAW32,
    { kind: "digits", length: 64 } as const,
    { kind: "base32", length: 40 } as const,
  ]) {
    const a = await factoryIdentifier(root, format);
    assert.equal(a.length, format.length);
    assertSameSecret(await factoryIdentifier(Uint8Array.from(root), format), a);
    assertDifferentSecret(await factoryIdentifier(randomBytes(32), format), a);
  }
  const digits = Buffer.from(await factoryIdentifier(root, { kind: "digits", length: 64 })).toString("ascii");
  assert.match(digits, /^[0-9]{64}$/);
});
