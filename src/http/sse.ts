import type { Context } from "hono";
import { streamSSE } from "hono/streaming";

/** A comment this often keeps idle connections (and proxies) from timing out. */
const KEEP_ALIVE_MS = 15_000;

/** What an event stream carries, and when it ends. */
export interface EventFeed<T> {
  /**
   * Starts delivering items to `listener`; returns the function that stops it. `drained` resolves
   * once every item delivered so far is written: a feed reading a backlog waits for it before it
   * reads more, so a slow client holds one page in memory, not the backlog.
   */
  subscribe(listener: (item: T) => void, drained: () => Promise<void>): () => void;
  /** The event's name on the stream ("request", "binding"); its data is the item as JSON. */
  name(item: T): string;
  /**
   * The event's `id:` line, for a feed that can resume after it (a client sends it back as
   * Last-Event-ID). None for a feed without history: an id it could not honour would only mislead.
   */
  id?(item: T): string;
  /** Ends the stream from the server's side (the daemon closing, a session signed out). */
  readonly until?: AbortSignal;
  /** Asked at every keep-alive: false ends the stream (an expired session). */
  alive?(): boolean;
  /** The last event of a stream the server ended while the client still listened. */
  readonly farewell?: string;
}

/**
 * The one event-stream pump: "ready" first, then every item as it happens, a keep-alive comment
 * when idle, until the client leaves or the feed ends. HEAD is answered like GET, without a body:
 * a stream started for it would never be read or aborted, and its subscription would stay for ever.
 * Specified in docs/spec.md §6.6, §8.5, §10.10.
 */
export function eventStream<T>(c: Context, feed: EventFeed<T>): Response {
  if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" });
  return streamSSE(c, async (stream) => {
    // null: a keep-alive comment.
    const queue: (T | null)[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    const push = (item: T | null) => {
      queue.push(item);
      wake?.();
    };
    const end = () => {
      ended = true;
      wake?.();
    };
    let drainedWaiters: (() => void)[] = [];
    const drained = () =>
      queue.length === 0 || ended
        ? Promise.resolve()
        : new Promise<void>((resolve) => drainedWaiters.push(resolve));
    const release = () => {
      for (const resolve of drainedWaiters) resolve();
      drainedWaiters = [];
    };
    const unsubscribe = feed.subscribe(push, drained);
    const keepAlive = setInterval(() => ((feed.alive?.() ?? true) ? push(null) : end()), KEEP_ALIVE_MS);
    feed.until?.addEventListener("abort", end);
    stream.onAbort(end);
    try {
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (!ended && !stream.aborted && !feed.until?.aborted) {
        const next = queue.shift();
        if (next === undefined) {
          release();
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        } else if (next === null) {
          await stream.write(": keep-alive\n\n");
        } else {
          const id = feed.id?.(next);
          await stream.writeSSE({
            event: feed.name(next),
            data: JSON.stringify(next),
            ...(id === undefined ? {} : { id }),
          });
        }
      }
      if (feed.farewell && !stream.aborted) await stream.writeSSE({ event: feed.farewell, data: "{}" });
    } finally {
      feed.until?.removeEventListener("abort", end);
      unsubscribe();
      release();
      clearInterval(keepAlive);
    }
  });
}
