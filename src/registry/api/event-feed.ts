import type { EventFeed } from "../../http/sse.js";
import type { RegistryStore } from "../store/store.js";
import { type EventView, eventView } from "../views.js";
import { EVENT_PAGE_LIMIT } from "./operations.js";

/** How often a waiting stream's server asks the database for its newest sequence. */
const POLL_MS = 250;

/**
 * Tells event streams when the registry has events past theirs. One query of the newest sequence
 * every POLL_MS, whatever the number of streams, and none while no stream waits: events committed
 * by any process (this server, or `registry revoke --dir` beside it: WAL lets it read while they
 * write) reach the streams alike.
 */
export class EventWatch {
  private readonly waiting = new Set<{ after: number; wake: () => void }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: Pick<RegistryStore, "lastEventSequence">) {}

  /** Resolves once the newest sequence is above `after`, or when `stop` is called. */
  wait(after: number): { changed: Promise<void>; stop: () => void } {
    let entry = { after, wake: () => {} };
    const changed = new Promise<void>((resolve) => {
      entry = { after, wake: resolve };
    });
    this.waiting.add(entry);
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    const stop = () => {
      this.waiting.delete(entry);
      entry.wake();
      if (this.waiting.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
    return { changed: changed.then(stop), stop };
  }

  private async poll(): Promise<void> {
    let last: number;
    try {
      last = await this.store.lastEventSequence();
    } catch {
      // A busy or failing database: the streams wait for the next poll, as a reader would.
      return;
    }
    for (const entry of [...this.waiting]) if (last > entry.after) entry.wake();
  }
}

/**
 * The events after `since`, a page at a time, each page read only once the one before is written
 * (a slow client holds one page, not the backlog); then each new one as the watch sees it commit.
 * Each carries its sequence as its id: a client that lost the stream asks again after it
 * (Last-Event-ID). A failure to read ends the stream.
 */
export function registryEventFeed(
  store: Pick<RegistryStore, "eventsSince">,
  watch: EventWatch,
  since: number,
): EventFeed<EventView> {
  const ended = new AbortController();
  return {
    name: (event) => event.type,
    id: (event) => String(event.sequence),
    until: ended.signal,
    subscribe(listener, drained) {
      let stopped = false;
      let stopWaiting = () => {};
      void (async () => {
        let after = since;
        while (!stopped) {
          const page = await store.eventsSince(after, EVENT_PAGE_LIMIT);
          if (stopped) return;
          for (const event of page) {
            listener(eventView(event));
            after = event.sequence;
          }
          await drained();
          if (page.length === EVENT_PAGE_LIMIT || stopped) continue;
          const waiting = watch.wait(after);
          stopWaiting = waiting.stop;
          await waiting.changed;
        }
      })().catch(() => ended.abort());
      return () => {
        stopped = true;
        stopWaiting();
      };
    },
  };
}
