import { type Context, Hono, type Next } from "hono";
import { ExitCode } from "../../errors.js";
import { checkCall } from "../../http/browser/calls.js";
import { securityHeaders } from "../../http/browser/headers.js";
import { serveStaticFiles } from "../../http/browser/static-files.js";
import { HttpError } from "../../http/wire.js";
import { answerOperatorErrors } from "../api/answers.js";
import type { OperatorHandlers } from "../api/handlers.js";
import type { RegistryStore } from "../store/store.js";
import { loadOperatorPageFiles, OPERATOR_PAGE } from "./files.js";
import { operationsApp } from "./operations.js";
import { OperatorSessions } from "./sessions.js";
import { signInApp } from "./sign-in.js";

export interface OperatorPageOptions {
  readonly store: Pick<RegistryStore, "isOperatorToken" | "lastEventSequence">;
  /** The operations as the bearer API runs them. */
  readonly handlers: OperatorHandlers;
  /** The registry's origins, https://HOST:PORT for each of its hosts: the only Host and Origin accepted. */
  readonly origins: readonly string[];
  /** Told of failures that are reid's own (internal errors), never of refusals. */
  readonly report?: ((message: string) => void) | undefined;
}

/**
 * The operator's page (docs/spec.md §10.11), on the registry's own HTTPS listener under /operator/:
 * the fleet, a device's succession chain as a picture, revocation, enrollment tokens and the live
 * events, for a browser signed in with the operator token. The owner's page's standards:
 * - every answer carries its CSP (scripts and styles from this origin only, none inline) and
 *   security headers; the Host must be one of the registry's (a DNS-rebound name is refused);
 * - the pasted operator token opens a session and goes no further: the browser holds a random
 *   session id in a Secure, HttpOnly, SameSite=Strict cookie, never the token;
 * - the API refuses cross-site fetches; every state-changing call (sign-in included) must come
 *   from the registry's Origin, as JSON, with the session's CSRF token;
 * - the fleet's operations are OPERATOR_OPERATIONS with the bearer API's handlers: a session
 *   instead of the header, nothing else of their own.
 */
export function operatorPage(options: OperatorPageOptions): Hono {
  const app = new Hono();
  const sessions = new OperatorSessions();
  const api = `${OPERATOR_PAGE}/api`;
  answerOperatorErrors(app, { report: options.report, bearer: false });
  app.use(`${OPERATOR_PAGE}/*`, securityHeaders);
  app.use(`${OPERATOR_PAGE}/*`, checkHost(options.origins));
  app.get(OPERATOR_PAGE, (c) => c.redirect(`${OPERATOR_PAGE}/`, 308));
  app.get(`${OPERATOR_PAGE}/favicon.ico`, (c) => c.body(null, 204));
  serveStaticFiles(app, loadOperatorPageFiles());
  app.use(`${api}/*`, async (c, next) => {
    checkCall(c, { origins: options.origins, csrf: (call) => sessions.requireSession(call).csrf });
    await next();
  });
  app.route(api, signInApp(options.store, sessions));
  app.route(api, operationsApp(options.handlers, sessions));
  return app;
}

/** The page answers only under the registry's own names. */
function checkHost(origins: readonly string[]) {
  const hosts = new Set(origins.map((origin) => new URL(origin).host));
  return async (c: Context, next: Next) => {
    const host = c.req.header("host")?.toLowerCase();
    if (host !== undefined && hosts.has(host)) return next();
    throw new HttpError(
      421,
      "wrong-host",
      ExitCode.auth,
      `this page answers only as ${origins.join(", ") || "the registry's hosts"}, not as '${(host ?? "").slice(0, 64)}'`,
    );
  };
}
