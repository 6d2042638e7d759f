import type { Clock } from "../../src/daemon/clock.js";

interface Timer {
  readonly due: number;
  readonly order: number;
  readonly fire: () => void;
}

/** More timers than this firing within one advance() means something re-arms itself for ever. */
const MAX_FIRES_PER_ADVANCE = 10_000;

/**
 * A Clock that moves only when a test moves it: time stands still, and a timer fires only while
 * advance() passes its due time, never by itself, so scheduling tests need no sleeping.
 */
export class FakeClock implements Clock {
  private time: number;
  private timers: Timer[] = [];
  private order = 0;
  /** How many timers have fired so far. */
  fired = 0;

  constructor(start: Date | string | number) {
    this.time = new Date(start).getTime();
    if (Number.isNaN(this.time)) throw new RangeError(`bad start time ${String(start)}`);
  }

  now(): Date {
    return new Date(this.time);
  }

  after(ms: number, fire: () => void): { cancel(): void } {
    const timer: Timer = { due: this.time + Math.max(0, ms), order: this.order++, fire };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((armed) => armed !== timer);
      },
    };
  }

  /** The due times of the timers armed now, earliest first. */
  pending(): Date[] {
    return this.sorted().map((timer) => new Date(timer.due));
  }

  /**
   * Moves time forward by `ms`. Every timer due on the way fires with the clock standing at its
   * due time, earliest first; `settle` (say, waiting for the scheduler to finish what the timer
   * started) is awaited after each, before time moves on. Timers armed meanwhile fire too if
   * they fall due before the end.
   */
  async advance(ms: number, settle: () => Promise<void> = async () => {}): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward (advance(${ms}))`);
    const end = this.time + ms;
    for (let fires = 0; ; fires++) {
      if (fires > MAX_FIRES_PER_ADVANCE) throw new Error("timers keep re-arming at the same time");
      const next = this.sorted()[0];
      if (!next || next.due > end) break;
      this.timers = this.timers.filter((armed) => armed !== next);
      this.time = Math.max(this.time, next.due);
      this.fired++;
      next.fire();
      await settle();
    }
    this.time = end;
  }

  /** advance() to the instant `to`. */
  advanceTo(to: Date | string, settle?: () => Promise<void>): Promise<void> {
    return this.advance(new Date(to).getTime() - this.time, settle);
  }

  private sorted(): Timer[] {
    return [...this.timers].sort((a, b) => a.due - b.due || a.order - b.order);
  }
}
