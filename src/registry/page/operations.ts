import { Hono } from "hono";
import type { Session } from "../../http/browser/sessions.js";
import { serveOperations } from "../../http/serve.js";
import type { EventFeed } from "../../http/sse.js";
import type { OperatorHandlers } from "../api/handlers.js";
import { OPERATOR_OPERATIONS, streamStart } from "../api/operations.js";
import type { EventView } from "../views.js";
import type { OperatorSessions } from "./sessions.js";

/**
 * OPERATOR_OPERATIONS for a signed-in session, with the handlers the bearer API runs: the same
 * paths under the page's API (/operator/api/v1/…), the same inputs, checks and answers.
 */
export function operationsApp(handlers: OperatorHandlers, sessions: OperatorSessions): Hono {
  const app = new Hono();
  app.use("/v1/*", async (c, next) => {
    sessions.requireSignedIn(c);
    await next();
  });
  serveOperations(app, OPERATOR_OPERATIONS, (c) => ({
    ...handlers,
    eventStream: () =>
      sessionFeed(
        handlers.stream(streamStart(c.req.query("since"), c.req.header("last-event-id"))),
        sessions,
        sessions.requireSignedIn(c),
      ),
  }));
  return app;
}

/**
 * The registry's event feed for as long as the session lives: signing out, or the session's
 * expiry (seen at a keep-alive), ends it with `end`, as does a failure to read the database; the
 * page then asks for its session and, still signed in, goes on after the last event it got.
 */
function sessionFeed(
  feed: EventFeed<EventView>,
  sessions: OperatorSessions,
  session: Session,
): EventFeed<EventView> {
  const ended = new AbortController();
  const end = () => ended.abort();
  return {
    ...feed,
    until: feed.until ? AbortSignal.any([feed.until, ended.signal]) : ended.signal,
    alive: () => sessions.sessions.alive(session),
    farewell: "end",
    subscribe(listener, drained) {
      session.streams.add(end);
      const stop = feed.subscribe(listener, drained);
      return () => {
        stop();
        session.streams.delete(end);
      };
    },
  };
}
