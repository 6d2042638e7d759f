import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  APT_WINDOW,
  adaptiveProportionCutoff,
  computeCutoffs,
  DEFAULT_ALPHA,
  repetitionCountCutoff,
  STARTUP_SAMPLES,
} from "../../src/entropy/health/cutoffs.js";

/**
 * The cutoffs recomputed independently with exact rational arithmetic (BigInt), for integer H
 * (p = 2^-H is then rational) and alpha = 2^-a:
 *   APT: C = 1 + the smallest k with P(X > k) <= alpha, X ~ Binomial(W, 2^-H), i.e.
 *        sum_{j>k} C(W, j) (2^H - 1)^(W-j) * 2^a <= 2^(H W)
 *   RCT: C = 1 + ceil(a / H), with H = num / den: ceil(a den / num).
 */
function exactAptCutoff(window: number, minEntropyBits: number, alphaExponent: number): number {
  const n = BigInt(window);
  const base = 1n << BigInt(minEntropyBits);
  const total = base ** n;
  const scale = 1n << BigInt(alphaExponent);
  const choose: bigint[] = [1n];
  for (let k = 1; k <= window; k++) choose.push(((choose[k - 1] ?? 0n) * BigInt(window - k + 1)) / BigInt(k));
  // tail = P(X > k) * 2^(H W), built from the top down.
  let tail = 0n;
  for (let k = window; k >= 0; k--) {
    if (tail * scale > total) return 1 + (k + 1);
    tail += (choose[k] ?? 0n) * (base - 1n) ** BigInt(window - k);
  }
  return 1;
}

function exactRctCutoff(alphaExponent: number, numerator: number, denominator: number): number {
  const a = BigInt(alphaExponent) * BigInt(denominator);
  const h = BigInt(numerator);
  return 1 + Number((a + h - 1n) / h);
}

describe("SP 800-90B cutoffs", () => {
  test("the standard's own values for alpha = 2^-20 and W = 512 (Table 2, section 4.4)", () => {
    const alpha = 2 ** -20;
    assert.equal(adaptiveProportionCutoff(1, alpha, 512), 311);
    assert.equal(adaptiveProportionCutoff(2, alpha, 512), 177);
    assert.equal(adaptiveProportionCutoff(4, alpha, 512), 62);
    assert.equal(adaptiveProportionCutoff(8, alpha, 512), 13);
    assert.equal(repetitionCountCutoff(2, alpha), 11);
    // The window defaults to the standard's non-binary window.
    assert.equal(APT_WINDOW, 512);
    assert.equal(adaptiveProportionCutoff(2, alpha), 177);
  });

  test("our defaults (alpha = 2^-40): RCT H=4 -> 11, APT H=1,2,4,8 -> 336, 201, 78, 19", () => {
    assert.equal(DEFAULT_ALPHA, 2 ** -40);
    assert.equal(repetitionCountCutoff(4, DEFAULT_ALPHA), 11);
    assert.equal(adaptiveProportionCutoff(1, DEFAULT_ALPHA), 336);
    assert.equal(adaptiveProportionCutoff(2, DEFAULT_ALPHA), 201);
    assert.equal(adaptiveProportionCutoff(4, DEFAULT_ALPHA), 78);
    assert.equal(adaptiveProportionCutoff(8, DEFAULT_ALPHA), 19);
    assert.deepEqual(computeCutoffs(4), {
      minEntropy: 4,
      alpha: DEFAULT_ALPHA,
      rct: 11,
      apt: 78,
      window: 512,
    });
  });

  test("the pinned values agree with the exact rational computation (the checker is itself checked)", () => {
    assert.equal(exactAptCutoff(512, 1, 20), 311);
    assert.equal(exactAptCutoff(512, 2, 20), 177);
    assert.equal(exactAptCutoff(512, 4, 20), 62);
    assert.equal(exactAptCutoff(512, 8, 20), 13);
    assert.equal(exactRctCutoff(20, 2, 1), 11);
    assert.equal(exactAptCutoff(512, 1, 40), 336);
    assert.equal(exactAptCutoff(512, 2, 40), 201);
    assert.equal(exactAptCutoff(512, 4, 40), 78);
    assert.equal(exactAptCutoff(512, 8, 40), 19);
    assert.equal(exactRctCutoff(40, 4, 1), 11);
  });

  test("APT matches exact arithmetic for every integer H, several alphas and windows", () => {
    for (const window of [64, 512, 1024]) {
      for (const a of [20, 30, 40]) {
        for (let h = 1; h <= 8; h++) {
          assert.equal(
            adaptiveProportionCutoff(h, 2 ** -a, window),
            exactAptCutoff(window, h, a),
            `APT cutoff for W=${window}, H=${h}, alpha=2^-${a}`,
          );
        }
      }
    }
  });

  test("RCT matches exact arithmetic, fractional H included", () => {
    const entropies: [number, number][] = [
      [1, 4],
      [1, 2],
      [1, 1],
      [3, 2],
      [2, 1],
      [5, 2],
      [3, 1],
      [4, 1],
      [5, 1],
      [6, 1],
      [7, 1],
      [8, 1],
      [15, 2],
    ];
    for (const a of [1, 20, 21, 30, 40]) {
      for (const [num, den] of entropies) {
        assert.equal(
          repetitionCountCutoff(num / den, 2 ** -a),
          exactRctCutoff(a, num, den),
          `RCT cutoff for H=${num}/${den}, alpha=2^-${a}`,
        );
      }
    }
  });

  test("cutoffs tighten as H grows and loosen as alpha shrinks, also for fractional H", () => {
    const entropies = [0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.3, 4, 5.5, 6, 7.9, 8];
    for (const alpha of [2 ** -20, 2 ** -40]) {
      for (let i = 1; i < entropies.length; i++) {
        const lower = entropies[i - 1] ?? 0;
        const higher = entropies[i] ?? 0;
        assert.ok(repetitionCountCutoff(higher, alpha) <= repetitionCountCutoff(lower, alpha));
        assert.ok(adaptiveProportionCutoff(higher, alpha) <= adaptiveProportionCutoff(lower, alpha));
      }
    }
    for (const h of entropies) {
      assert.ok(repetitionCountCutoff(h, 2 ** -40) > repetitionCountCutoff(h, 2 ** -20));
      assert.ok(adaptiveProportionCutoff(h, 2 ** -40) > adaptiveProportionCutoff(h, 2 ** -20));
      assert.ok(adaptiveProportionCutoff(h, 2 ** -20) <= APT_WINDOW);
    }
  });

  test("computeCutoffs bundles both cutoffs with their parameters", () => {
    const cutoffs = computeCutoffs(2, 2 ** -20, 1024);
    assert.deepEqual(cutoffs, {
      minEntropy: 2,
      alpha: 2 ** -20,
      rct: exactRctCutoff(20, 2, 1),
      apt: exactAptCutoff(1024, 2, 20),
      window: 1024,
    });
    assert.ok(STARTUP_SAMPLES >= 1024, "SP 800-90B 4.3 start-up runs over at least 1024 samples");
  });

  test("bad parameters throw", () => {
    for (const h of [0, -1, 8.01, 9, Number.NaN, Number.POSITIVE_INFINITY, -0]) {
      assert.throws(() => repetitionCountCutoff(h, 2 ** -20), RangeError, `H = ${h}`);
      assert.throws(() => adaptiveProportionCutoff(h, 2 ** -20), RangeError, `H = ${h}`);
      assert.throws(() => computeCutoffs(h), RangeError, `H = ${h}`);
    }
    for (const alpha of [0, 1, -0.5, 1.5, Number.NaN]) {
      assert.throws(() => repetitionCountCutoff(4, alpha), RangeError, `alpha = ${alpha}`);
      assert.throws(() => adaptiveProportionCutoff(4, alpha), RangeError, `alpha = ${alpha}`);
      assert.throws(() => computeCutoffs(4, alpha), RangeError, `alpha = ${alpha}`);
    }
    for (const window of [0, 1, -512, 511.5, Number.NaN]) {
      assert.throws(() => adaptiveProportionCutoff(4, 2 ** -20, window), RangeError, `W = ${window}`);
      assert.throws(() => computeCutoffs(4, 2 ** -20, window), RangeError, `W = ${window}`);
    }
  });
});
