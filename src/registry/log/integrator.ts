import { setImmediate as yieldTurn } from "node:timers/promises";
import { ReidError } from "../../errors.js";
import { LOG_PAGE_LIMIT } from "../store/store.js";
import type { IdentityLog } from "./identity-log.js";

/** How long a committed change waits at most for the pass that puts it in a checkpoint. */
const PASS_INTERVAL_MS = 250;
/** Events re-hashed at a time by the check of the stored history: a few milliseconds of the server's thread. */
const CHECK_PAGE = 1000;

export interface IntegratorOptions {
  readonly log: IdentityLog;
  /**
   * Whether this server integrates now: on SQLite always (one database, one server); on PostgreSQL
   * the holder of the log's session advisory lock, so one node at a time signs checkpoints.
   */
  readonly integrating?: () => Promise<boolean>;
  readonly now?: () => Date;
  /** Told of a pass that failed (the next one tries again), once until one succeeds. */
  readonly report: (message: string) => void;
  /** Told, once, that the stored history was changed behind the registry's back: the server stops. */
  readonly corrupt: (error: ReidError) => void;
}

export interface Integrator {
  /** Stops passing and checking; resolves once a pass in flight has ended. */
  stop(): Promise<void>;
}

/**
 * `registry serve`'s integrator (docs/spec.md §10.12): every PASS_INTERVAL_MS (at once again after
 * a full pass) the events past the log's size go into the tree and a new checkpoint is signed and
 * stored. Meanwhile every event the log held at start is re-hashed from its row and compared with
 * the tree, a page at a time between requests: the start itself reads 32 bytes a leaf, and this
 * check catches an event changed without its stored hash. Resolves after the first pass, so a
 * server that integrates has a checkpoint before it answers.
 */
export async function startIntegrator(options: IntegratorOptions): Promise<Integrator> {
  const { log, report } = options;
  const integrating = options.integrating ?? (async () => true);
  const now = options.now ?? (() => new Date());
  let stopped = false;
  let failing: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  const fail = (error: unknown): boolean => {
    if (error instanceof ReidError && error.code === "registry-corrupt") {
      if (!stopped) options.corrupt(error);
      stopped = true;
      return true;
    }
    return false;
  };

  const pass = async (): Promise<void> => {
    let appended = 0;
    try {
      if (await integrating()) appended = await log.integrate(now());
      failing = null;
    } catch (error) {
      if (fail(error)) return;
      const message = `the identity log's integration failed (tried again): ${(error as Error).message}`;
      if (message !== failing) report(message);
      failing = message;
    }
    // Unreferenced: the server's listener keeps the process, not the log's timer.
    if (!stopped) timer = setTimeout(run, appended === LOG_PAGE_LIMIT ? 0 : PASS_INTERVAL_MS).unref();
  };
  let running = pass();
  const run = () => {
    running = pass();
  };

  const checked = (async () => {
    const size = log.checkpoint?.size ?? 0;
    for (let start = 0; start < size && !stopped; start += CHECK_PAGE) {
      await log.leaves(start, Math.min(size, start + CHECK_PAGE), true);
      await yieldTurn();
    }
  })().catch((error: unknown) => {
    if (!fail(error) && !stopped)
      report(`the identity log's stored history could not be checked: ${String(error)}`);
  });

  await running;
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all([running, checked]);
    },
  };
}
