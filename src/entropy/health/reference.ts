import type { Cutoffs } from "./cutoffs.js";
import type { HealthState, HealthTestName, HealthTests } from "./health-tests.js";

/**
 * The tests written as the standard words them, one sample at a time. It is the yardstick the
 * SIMD implementation is checked against, and the fallback where WebAssembly SIMD is missing.
 */
export class ReferenceHealthTests implements HealthTests {
  private last = -1;
  private run = 0;
  private reference = 0;
  private count = 0;
  private seen = 0;

  constructor(readonly cutoffs: Cutoffs) {}

  check(samples: Uint8Array): HealthTestName | null {
    const { rct, apt, window } = this.cutoffs;
    let repetition = false;
    let proportion = false;
    for (const sample of samples) {
      if (sample === this.last) {
        this.run++;
        if (this.run >= rct) repetition = true;
      } else {
        this.last = sample;
        this.run = 1;
      }
      if (this.seen === 0) {
        this.reference = sample;
        this.count = 1;
        this.seen = 1;
      } else {
        if (sample === this.reference) {
          this.count++;
          if (this.count >= apt) proportion = true;
        }
        this.seen++;
      }
      if (this.seen === window) this.seen = 0;
    }
    return repetition ? "repetition-count" : proportion ? "adaptive-proportion" : null;
  }

  state(): HealthState {
    return { last: this.last, run: this.run, reference: this.reference, count: this.count, seen: this.seen };
  }

  allocate(length: number): Uint8Array {
    return new Uint8Array(length);
  }
}
