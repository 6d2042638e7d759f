import type { ControlUnit } from "../element/control-unit.js";
import type { Clock } from "./clock.js";

/** How long the scheduler waits before it tries a schedule it could not read or update again. */
export const RETRY_MS = 60_000;

/**
 * Carries out scheduled requests at their time. At start, everything that fell due while no
 * daemon ran is carried out at once, marked late; then a timer waits for the next one, re-armed
 * whenever the schedule changes. A schedule that cannot be read or updated while the daemon runs
 * (storage trouble, a file edited by hand) is reported and tried again later: it never stops the
 * daemon, and its requests stay where they are.
 */
export class Scheduler {
  private timer: { cancel(): void } | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly control: ControlUnit,
    private readonly clock: Clock,
    private readonly startedAt: Date = clock.now(),
    private readonly report: (error: unknown) => void = reportOnStderr,
  ) {}

  /**
   * Runs what fell due while no daemon ran, then waits for the next one. A schedule that cannot be
   * read at all fails the start, loudly.
   */
  start(): Promise<void> {
    this.control.scheduled();
    this.unsubscribe = this.control.onScheduleChange(() => this.arm());
    return this.tick();
  }

  /** Runs what is due now, then waits for the next one. Ticks never overlap. */
  tick(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.stopped) return;
      try {
        await this.control.runDue(this.clock.now(), this.startedAt);
      } catch (error) {
        this.retry(error);
        return;
      }
      this.arm();
    });
    return this.running;
  }

  /** Resolves once every tick started so far has finished (after a timer fired, say). */
  settled(): Promise<void> {
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wait(null);
    await this.running;
  }

  private arm(): void {
    let next: ReturnType<ControlUnit["scheduled"]>[number] | undefined;
    try {
      next = this.control.scheduled()[0];
    } catch (error) {
      this.retry(error);
      return;
    }
    this.wait(next ? Date.parse(next.at) - this.clock.now().getTime() : null);
  }

  private retry(error: unknown): void {
    if (this.stopped) return;
    this.report(error);
    this.wait(RETRY_MS);
  }

  /** Fires a tick after `ms`, replacing any timer armed before; null: no timer. */
  private wait(ms: number | null): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.stopped || ms === null) return;
    this.timer = this.clock.after(ms, () => void this.tick());
  }
}

function reportOnStderr(error: unknown): void {
  const message = (error instanceof Error ? error.message : String(error)).replace(
    /[\p{Cc}\p{Zl}\p{Zp}]/gu,
    " ",
  );
  process.stderr.write(`reid: scheduled requests: ${message}; trying again in ${RETRY_MS / 1000} s\n`);
}
