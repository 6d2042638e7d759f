import type { ControlUnit } from "../element/control-unit.js";
import type { Clock } from "./clock.js";

/**
 * Carries out scheduled requests at their time. At start, everything that fell due while no
 * daemon ran is carried out at once, marked late; then a timer waits for the next one, re-armed
 * whenever the schedule changes.
 */
export class Scheduler {
  private timer: { cancel(): void } | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly control: ControlUnit,
    private readonly clock: Clock,
    private readonly startedAt: Date = clock.now(),
  ) {}

  start(): Promise<void> {
    this.control.onScheduleChange(() => this.arm());
    return this.tick();
  }

  /** Runs what is due now, then waits for the next one. Ticks never overlap. */
  tick(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.stopped) return;
      await this.control.runDue(this.clock.now(), this.startedAt);
      this.arm();
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.stopped) return;
    const next = this.control.scheduled()[0];
    if (!next) return;
    this.timer = this.clock.after(Date.parse(next.at) - this.clock.now().getTime(), () => void this.tick());
  }
}
