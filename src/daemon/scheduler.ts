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
  private stopWaiting: (() => void) | null = null;
  /** Whether the daemon said already that due requests wait for the owner's PIN. */
  private waitingSaid = false;

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
    // A proof of the owner (a PIN-proven request, or the PIN given to serve) lets what waits run.
    this.stopWaiting = this.control.onOwnerAuth(() => void this.tick());
    return this.tick();
  }

  /** Runs what is due now, then waits for the next one. Ticks never overlap. */
  tick(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.stopped) return;
      if (this.control.ownerAuthMissing()) {
        this.waitForOwner();
        return;
      }
      this.waitingSaid = false;
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
    this.stopWaiting?.();
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

  /**
   * The TPM keeps the identifier under the owner PIN's authorization and this daemon holds none (it
   * started without the PIN): due requests stay in the register, untouched, and run as soon as the
   * owner proves the PIN (docs/spec.md §2.6). Said once on stderr; the timer waits for the next.
   */
  private waitForOwner(): void {
    let due = 0;
    try {
      const now = this.clock.now().getTime();
      due = this.control.scheduled().filter((entry) => Date.parse(entry.at) <= now).length;
    } catch {}
    if (due > 0 && !this.waitingSaid) {
      this.waitingSaid = true;
      this.report(
        new WaitingForOwner(
          `${due} scheduled request${due === 1 ? " is" : "s are"} due and wait${due === 1 ? "s" : ""} for the owner's PIN: the TPM keeps the identifier under its authorization, which this daemon does not hold since it started; any request with the PIN (reid status with --pin-file or REID_PIN) lets ${due === 1 ? "it" : "them"} run`,
        ),
      );
    }
    this.arm();
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

/** Due requests wait for the owner's proof: said as it is, not as a failure retried later. */
class WaitingForOwner extends Error {}

function reportOnStderr(error: unknown): void {
  if (error instanceof WaitingForOwner) {
    process.stderr.write(`reid: scheduled requests: ${error.message}\n`);
    return;
  }
  const message = (error instanceof Error ? error.message : String(error)).replace(
    /[\p{Cc}\p{Zl}\p{Zp}]/gu,
    " ",
  );
  process.stderr.write(`reid: scheduled requests: ${message}; trying again in ${RETRY_MS / 1000} s\n`);
}
