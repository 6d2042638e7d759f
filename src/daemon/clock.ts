/** Time as the daemon's scheduler sees it: injectable, so tests move time instead of sleeping. */
export interface Clock {
  now(): Date;
  /** Calls `fire` after `ms` milliseconds (or later), unless cancelled. */
  after(ms: number, fire: () => void): { cancel(): void };
}

/** setTimeout accepts at most 2^31 - 1 ms; longer waits are re-armed in steps. */
const LONGEST_TIMER = 2 ** 31 - 1;

export const SYSTEM_CLOCK: Clock = {
  now: () => new Date(),
  after: (ms, fire) => {
    const timer = setTimeout(fire, Math.min(Math.max(ms, 0), LONGEST_TIMER));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
