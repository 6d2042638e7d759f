import { type Context, Hono } from "hono";
import type { BindingApi } from "../binding/api.js";
import { BINDING_OPERATIONS } from "../binding/operations.js";
import type { ElementApi } from "../element/api.js";
import type { EnrollmentApi } from "../enrollment/api.js";
import { ENROLLMENT_OPERATIONS } from "../enrollment/operations.js";
import { answerErrors } from "../http/answer.js";
import { credentialsOf } from "../http/credentials.js";
import type { Operation } from "../http/operation.js";
import { RateLimiter, rateLimit, SOCKET_RATE } from "../http/rate-limit.js";
import { serveOperations } from "../http/serve.js";
import type { PageApi } from "../web/links.js";
import { ELEMENT_OPERATIONS, PAGE_OPERATIONS } from "./operations.js";

/** Everything the daemon serves on its socket, table by table: docs/spec.md §6.4 lists it, the tests drive it. */
export const DAEMON_API = {
  element: ELEMENT_OPERATIONS,
  binding: BINDING_OPERATIONS,
  enrollment: ENROLLMENT_OPERATIONS,
  page: PAGE_OPERATIONS,
} as const;

/**
 * The daemon's API (DAEMON_API) on one app.
 * Every route validates its input and answers a bad one with a 4xx naming the problem; nothing a
 * client sends can reach the element unchecked.
 */
export function apiRoutes(
  elementFor: (c: Context) => ElementApi,
  /** The binding operations for the caller (the user role and the listing). */
  bindingFor: (c: Context) => Promise<BindingApi>,
  /** The enrollment with a registry (renewal) for the caller: the daemon holds the key TLS signs with. */
  enrollment: (c: Context) => EnrollmentApi,
  /** The owner's page, for its sign-in link (refused when the daemon serves no page). */
  page: () => PageApi,
  /** The socket's one bucket (docs/spec.md §2.8): a fresh one unless the daemon keeps its own. */
  limiter = new RateLimiter(SOCKET_RATE),
): Hono {
  const app = new Hono();
  answerErrors(app);
  // A malformed Authorization header is refused on every route, also those that need no owner.
  app.use(async (c, next) => {
    credentialsOf(c);
    await next();
  });
  // Before any body is read or any proof checked: a refusal here is no PIN try and no audit record.
  const limited = rateLimit(limiter, () => ["socket"], "this socket");
  const guarded = new Set<string>();
  for (const table of Object.values(DAEMON_API)) {
    for (const [name, operation] of Object.entries(table.operations) as [string, Operation][]) {
      const route = `${operation.method} ${operation.path}`;
      // Two operations on one route (init and init --factory) are one request: one token.
      if (!rateLimited(name, operation) || guarded.has(route)) continue;
      guarded.add(route);
      app.on(operation.method, [operation.path], limited);
    }
  }
  serveOperations(app, DAEMON_API.element, elementFor);
  serveOperations(app, DAEMON_API.binding, bindingFor);
  serveOperations(app, DAEMON_API.enrollment, enrollment);
  serveOperations(app, DAEMON_API.page, page);
  return app;
}

/**
 * The socket's operations a token bucket guards: every owner operation, and the two others whose
 * callers make the element check a secret or write its audit log (a recovery code, a refusal).
 */
function rateLimited(name: string, operation: Operation): boolean {
  return operation.owner || name === "unlockPin" || name === "refuseProof";
}
