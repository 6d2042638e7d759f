import { Hono } from "hono";
import { eventStream } from "../http/sse.js";
import type { PageContext } from "./page-context.js";

/**
 * GET /api/events: every finished request as it happens (binding events are not the page's), for a
 * signed-in session; signing out or the session expiring ends the stream with "signed-out".
 */
export function eventsApp(page: PageContext): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    const session = page.requireSignedIn(c);
    const feed = page.reader.events();
    const ended = new AbortController();
    const end = () => ended.abort();
    return eventStream(c, {
      subscribe: (listener) => {
        const unsubscribe = feed.subscribe((event) => {
          if (feed.name(event) === "request") listener(event);
        });
        session.streams.add(end);
        return () => {
          unsubscribe();
          session.streams.delete(end);
        };
      },
      name: () => "request",
      until: ended.signal,
      alive: () => page.sessions.alive(session),
      farewell: "signed-out",
    });
  });
  return app;
}
