import type { Cutoffs } from "./cutoffs.js";

export type HealthTestName = "repetition-count" | "adaptive-proportion";

/** Where a continuous health test stands between two batches of samples. */
export interface HealthState {
  /** Repetition Count Test: the last sample (-1 before the first) and the length of its run. */
  readonly last: number;
  readonly run: number;
  /** Adaptive Proportion Test: the window's first sample, its count, and samples seen in the window (0 = next starts one). */
  readonly reference: number;
  readonly count: number;
  readonly seen: number;
}

/**
 * The continuous tests of SP 800-90B 4.4 over 8-bit samples. State carries across calls, so a
 * run or a window split between two batches is judged as one.
 */
export interface HealthTests {
  readonly cutoffs: Cutoffs;
  /**
   * Runs both tests over `samples`: "repetition-count" if the RCT tripped anywhere in them, else
   * "adaptive-proportion" if the APT did, else null. After a trip the state is unspecified: the
   * caller latches the failure and never feeds these tests again.
   */
  check(samples: Uint8Array): HealthTestName | null;
  state(): HealthState;
  /**
   * Memory the tests can check in place (no copy). Callers that keep samples there, such as the
   * FIFO, save a pass over every byte; any other Uint8Array is accepted too.
   */
  allocate(length: number): Uint8Array;
}
