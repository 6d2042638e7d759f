/**
 * SP 800-90B section 4.4 cutoffs, computed from the assessed min-entropy H (bits per sample)
 * and the false-positive probability alpha, never copied from a table.
 * Specified in docs/spec.md §5.8.
 */

/** Our alpha: the standard's stricter end, so a healthy source streaming GB/s never trips. */
export const DEFAULT_ALPHA = 2 ** -40;
/** SP 800-90B window for non-binary (here 8-bit) samples. */
export const APT_WINDOW = 512;
/**
 * SP 800-90B 4.3 asks for at least 1024 start-up samples; we test 16 times that. An identifier
 * draws only a few dozen samples after start-up, and the APT judges a window by its first sample
 * only, so two windows would let a source with 30% of one value through half the time; 32 windows
 * let it through once in 10^5 starts, for ~10 us per start.
 */
export const STARTUP_SAMPLES = 16384;

export interface Cutoffs {
  readonly minEntropy: number;
  readonly alpha: number;
  /** Repetition Count Test: this many identical consecutive samples is a failure. */
  readonly rct: number;
  /** Adaptive Proportion Test: this many copies of a window's first sample in the window is a failure. */
  readonly apt: number;
  readonly window: number;
}

/** C = 1 + ceil(-log2(alpha) / H). */
export function repetitionCountCutoff(minEntropy: number, alpha: number): number {
  checkParameters(minEntropy, alpha);
  return 1 + Math.ceil(-Math.log2(alpha) / minEntropy);
}

/** C = 1 + CRITBINOM(W, 2^-H, 1 - alpha). */
export function adaptiveProportionCutoff(minEntropy: number, alpha: number, window = APT_WINDOW): number {
  checkParameters(minEntropy, alpha);
  if (!Number.isInteger(window) || window < 2) throw new RangeError(`window must be an integer >= 2`);
  return 1 + critbinom(window, 2 ** -minEntropy, alpha);
}

export function computeCutoffs(minEntropy: number, alpha = DEFAULT_ALPHA, window = APT_WINDOW): Cutoffs {
  return {
    minEntropy,
    alpha,
    rct: repetitionCountCutoff(minEntropy, alpha),
    apt: adaptiveProportionCutoff(minEntropy, alpha, window),
    window,
  };
}

/**
 * The smallest k with P(X <= k) >= 1 - alpha for X ~ Binomial(n, p). Evaluated as the upper
 * tail P(X > k) <= alpha, summed from the top in log space: 1 - alpha is not representable
 * next to 1 for small alpha, the tail is.
 */
function critbinom(n: number, p: number, alpha: number): number {
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logChoose = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) logChoose[k] = (logChoose[k - 1] ?? 0) + Math.log((n - k + 1) / k);
  let tail = 0;
  for (let k = n; k >= 1; k--) {
    tail += Math.exp((logChoose[k] ?? 0) + k * logP + (n - k) * logQ);
    // tail is now P(X >= k) = P(X > k - 1).
    if (tail > alpha) return k;
  }
  return 0;
}

function checkParameters(minEntropy: number, alpha: number): void {
  if (!(minEntropy > 0 && minEntropy <= 8)) throw new RangeError(`min-entropy must be in (0, 8] bits`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1)`);
}
