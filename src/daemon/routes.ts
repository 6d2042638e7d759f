import { type Context, Hono } from "hono";
import { BINDING_OPERATIONS } from "../binding/operations.js";
import type { ElementApi } from "../element/api.js";
import type { BindingEvent, Notification } from "../element/request.js";
import { answerErrors } from "../http/answer.js";
import { credentialsOf } from "../http/credentials.js";
import { serveOperations } from "../http/serve.js";
import { ELEMENT_OPERATIONS, EVENT_OPERATIONS, type EventApi } from "./operations.js";

/**
 * The daemon's API (the tables of daemon/operations.ts and binding/operations.ts) on one app.
 * Every route validates its input and answers a bad one with a 4xx naming the problem; nothing a
 * client sends can reach the element unchecked.
 */
export function apiRoutes(
  elementFor: (c: Context) => ElementApi,
  subscribe: (listener: (event: Notification | BindingEvent) => void) => () => void,
  /** Aborted when the daemon stops: event streams end their responses, so followers end cleanly. */
  closing: AbortSignal,
): Hono {
  const app = new Hono();
  answerErrors(app);
  // A malformed Authorization header is refused on every route, also those that need no owner.
  app.use(async (c, next) => {
    credentialsOf(c);
    await next();
  });
  serveOperations(app, ELEMENT_OPERATIONS, elementFor);
  serveOperations(app, BINDING_OPERATIONS, (c) => elementFor(c).binding());
  const events: EventApi = {
    // A binding event names what happened ("bound", "command"...); a request's notification its type.
    events: () => ({
      subscribe,
      name: (event) => ("event" in event ? "binding" : "request"),
      until: closing,
    }),
  };
  serveOperations(app, EVENT_OPERATIONS, () => events);
  return app;
}
