import { setTimeout as sleep } from "node:timers/promises";
import type { EventView } from "./views.js";

/** How often a follower of the database asks for new events: WAL lets it read while others write. */
const POLL_MS = 250;
const PAGE = 1000;

/** How a follow ends, and whom it tells of a lost connection (a follower over the network). */
export interface FollowOptions {
  /** Aborted: the follow ends at the next page or pause. */
  readonly until: AbortSignal;
  /** Told once per outage that the registry was lost and is being asked again. */
  readonly lost?: (why: string) => void;
}

/** Waits `ms`, less once `until` is aborted; false if it was. */
export async function pause(ms: number, until: AbortSignal): Promise<boolean> {
  await sleep(ms, undefined, { signal: until }).catch(() => {});
  return !until.aborted;
}

/**
 * The events after `after`, a page at a time, then each new one as it commits (by any process),
 * asked for every POLL_MS, until `until` is aborted (docs/spec.md §10.6).
 */
export async function* pollEvents(
  events: (after: number, limit: number) => Promise<readonly EventView[]>,
  after: number,
  until: AbortSignal,
): AsyncGenerator<EventView> {
  let last = after;
  while (!until.aborted) {
    const page = await events(last, PAGE);
    for (const event of page) {
      yield event;
      last = event.sequence;
    }
    if (page.length < PAGE && !(await pause(POLL_MS, until))) return;
  }
}
