import { EntropyError, ReidError } from "../errors.js";
import { createHealthTests } from "./health/create.js";
import { computeCutoffs, STARTUP_SAMPLES } from "./health/cutoffs.js";
import type { HealthTestName, HealthTests } from "./health/health-tests.js";
import type { EntropySource } from "./source.js";

/**
 * The true random number generating module: a noise source behind SP 800-90B health tests.
 * Nothing leaves it untested: the start-up test runs over the first 1024 samples (discarded),
 * and every later batch is tested whole before any of it is handed out. One trip latches the
 * module shut for good, as the standard requires of a failed source.
 * Specified in docs/spec.md §5.8.
 */
export class TrngModule {
  private started = false;
  private failure: ReidError | null = null;

  constructor(
    readonly source: EntropySource,
    readonly tests: HealthTests,
  ) {}

  /** A module over `source` with cutoffs from its min-entropy; `arena` bytes are tested in place. */
  static over(source: EntropySource, arena = 0): TrngModule {
    return new TrngModule(source, createHealthTests(computeCutoffs(source.minEntropy), arena));
  }

  /** Memory whose samples the health tests check in place (the FIFO keeps its ring there). */
  allocate(length: number): Uint8Array {
    return this.tests.allocate(length);
  }

  /** Fills `target` with health-tested samples, or zeroes it and throws (an EntropyError as a rule). */
  async fill(target: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.started) {
      const startup = this.tests.allocate(STARTUP_SAMPLES);
      try {
        await this.draw(startup, "start-up");
      } finally {
        startup.fill(0);
      }
      this.started = true;
    }
    await this.draw(target, "continuous");
  }

  async close(): Promise<void> {
    await this.source.close();
  }

  private async draw(target: Uint8Array, phase: string): Promise<void> {
    try {
      await this.source.fill(target);
    } catch (error) {
      target.fill(0);
      // A source's own failures are entropy errors; a ReidError it lets through says something
      // else failed (a TPM answer that fails its session's integrity check, exit 6).
      throw this.latch(error instanceof ReidError ? error : new EntropyError(String(error)));
    }
    const tripped = this.tests.check(target);
    if (tripped) {
      target.fill(0);
      throw this.latch(new EntropyError(this.describe(tripped, phase), "entropy-health-test-failed"));
    }
  }

  private describe(test: HealthTestName, phase: string): string {
    const { rct, apt, window } = this.tests.cutoffs;
    const detail =
      test === "repetition-count"
        ? `repetition count test: ${rct} identical samples in a row`
        : `adaptive proportion test: ${apt} copies of one sample in a window of ${window}`;
    return `entropy source ${this.source.name} failed its ${phase} health test (${detail}); nothing was written`;
  }

  private latch(error: ReidError): ReidError {
    this.failure = error;
    return error;
  }
}
