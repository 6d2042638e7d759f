import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Delivery } from "./companion.js";
import type { DeliveryResult } from "./delivery.js";
import type { LoadLogWitness } from "./log-witness.js";
import { OUTBOX_FILE } from "./outbox.js";

const NOTHING: DeliveryResult = { delivered: 0, discarded: 0, failed: 0, retry: false };

/** The daemon's back-off while the registry is out of reach: 1 s, doubling, at most 5 minutes. */
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 5 * 60 * 1000;

/**
 * Delivers the outbox (docs/spec.md §10.9) for one process, one delivery at a time with every
 * other use of the outbox. The CLI's direct path tries once after the change, with a short
 * timeout, and leaves what it could not deliver pending; the daemon (`retry`) tries again with
 * exponential back-off until the registry answers, and once at start for what was left pending.
 */
export class Courier implements Delivery {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private delay = FIRST_DELAY_MS;
  private stopped = false;

  constructor(
    private readonly directory: string,
    private readonly now: () => Date,
    private readonly options: {
      readonly retry: boolean;
      readonly timeoutMs: number;
      /** The identity log's checks, for an enrollment that verifies the log (§10.12). */
      readonly witness: LoadLogWitness;
    },
  ) {}

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async after(handle: string | null): Promise<void> {
    if (!this.options.retry) {
      await this.attempt(handle);
      return;
    }
    this.delay = FIRST_DELAY_MS;
    this.kick(handle);
  }

  /** The daemon: a delivery now, and again after the back-off while the registry is out of reach. */
  kick(handle: string | null): void {
    clearTimeout(this.timer);
    void this.attempt(handle).then((result) => {
      if (this.stopped || (result !== null && !result.retry)) return;
      this.timer = setTimeout(() => this.kick(handle), this.delay);
      this.timer.unref();
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    });
  }

  /** No more deliveries; resolves once the one under way is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.queue;
  }

  /** One pass over the outbox; null when it could not be read or written (tried again like an unreachable registry). */
  private attempt(handle: string | null): Promise<DeliveryResult | null> {
    return this.exclusive(async () => {
      if (!existsSync(join(this.directory, OUTBOX_FILE))) return NOTHING;
      try {
        const { deliverOutbox } = await import("./delivery.js");
        return await deliverOutbox(this.directory, handle, {
          timeoutMs: this.options.timeoutMs,
          now: this.now,
          witness: this.options.witness,
        });
      } catch {
        return null;
      }
    });
  }
}
