import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { AuthError, ExitCode, ReidError } from "../../errors.js";
import { TooLarge } from "../../http/body.js";
import { readsBody } from "../../http/operation.js";
import { shorten } from "../../http/schema.js";
import { serveOperations } from "../../http/serve.js";
import { HttpError, toWire } from "../../http/wire.js";
import { storeOperator } from "../operator.js";
import { DEVICE_PAGE_LIMIT, type RegistryStore } from "../store.js";
import { DEFAULT_TOKEN_TTL, hashToken, tokenTtlSeconds } from "../tokens.js";
import { EventWatch, registryEventFeed } from "./event-feed.js";
import { EVENT_PAGE_LIMIT, OPERATOR_OPERATIONS, type OperatorApi, streamStart } from "./operations.js";

/**
 * The operator's API (docs/spec.md §10.10): the fleet, a device's report, revocation, enrollment
 * tokens and the events (a page, or a stream), each route behind the operator's bearer token.
 * Answers and refusals are JSON, refusals one line as the daemon's API sends them (src/http/wire.ts).
 */
export interface OperatorRoutesOptions {
  readonly store: RegistryStore;
  readonly now?: () => Date;
  /** Told of failures that are reid's own (internal errors), never of refusals. */
  readonly report?: (message: string) => void;
}

export const BEARER_REALM = 'Bearer realm="reid registry"';

/** The HTTP status of each refusal here; the others take their exit code's (§3.3). */
const STATUS: Readonly<Record<string, number>> = {
  "no-credentials": 401,
  "operator-refused": 401,
  "unknown-device": 404,
  "not-found": 404,
  "too-large": 413,
  "not-json": 415,
};

/** RFC 6750's b64token, of a sane length. */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]{1,512}=*) *$/i;

export function operatorRoutes(options: OperatorRoutesOptions): Hono {
  const { store } = options;
  const now = options.now ?? (() => new Date());
  const operator = storeOperator(store, now);
  const watch = new EventWatch(store);
  const app = new Hono();
  answerJson(app, options.report ?? (() => {}));

  const api: Omit<OperatorApi, "eventStream"> = {
    async devicePage({ status, after, limit = DEVICE_PAGE_LIMIT }) {
      const devices = await operator.devices({ status, after, limit });
      return { devices, after: devices.length === limit ? (devices.at(-1)?.handle ?? null) : null };
    },
    report: (handle) => operator.report(handle),
    revoke: (handle, reason) => operator.revoke(handle, reason),
    createToken: (ttlSeconds, label) =>
      operator.createToken(ttlSeconds ?? tokenTtlSeconds(DEFAULT_TOKEN_TTL), label ?? null),
    async eventPage(since = 0, limit = EVENT_PAGE_LIMIT) {
      const events = await operator.events(since, limit);
      return { events, since: events.at(-1)?.sequence ?? since };
    },
  };

  // Every method on an operator path asks for the token first: a caller without it learns nothing
  // else, not even whether its body would do.
  const authorise = operatorToken(store);
  const operations = Object.values(OPERATOR_OPERATIONS.operations);
  const paths = new Set(operations.map((operation) => operation.path));
  for (const path of paths) app.use(path, authorise);
  for (const operation of operations.filter(readsBody)) app.on(operation.method, operation.path, jsonOnly);
  serveOperations(app, OPERATOR_OPERATIONS, (c: Context) => ({
    ...api,
    eventStream: () =>
      registryEventFeed(store, watch, streamStart(c.req.query("since"), c.req.header("last-event-id"))),
  }));
  // Another method on an operator path is refused as the API refuses, in JSON; other paths are
  // left to the server's own 404.
  for (const path of paths) {
    app.all(path, (c) => {
      throw new ReidError(
        "not-found",
        ExitCode.usage,
        `no such endpoint: ${c.req.method.slice(0, 16)} ${shorten(c.req.path, 128)}`,
      );
    });
  }
  return app;
}

/** `Authorization: Bearer TOKEN`, the operator's token: the database holds its SHA-256 only. */
function operatorToken(store: RegistryStore): MiddlewareHandler {
  return async (c, next) => {
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    if (!match) {
      throw new AuthError(
        "no-credentials",
        "the operator API needs 'Authorization: Bearer' and the operator token",
      );
    }
    // Looked up by its hash: what is compared is a digest of the token, never the token.
    if (!(await store.isOperatorToken(hashToken(match[1] as string)))) {
      throw new AuthError("operator-refused", "the bearer token is not this registry's operator token");
    }
    await next();
  };
}

const jsonOnly: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(?:;.*)?$/i.test(type)) {
    throw new HttpError(
      415,
      "not-json",
      ExitCode.usage,
      `the body must be a JSON object sent as application/json, not '${shorten(type, 64)}'`,
    );
  }
  await next();
};

/** Every failure as one line of JSON, with its status and, for a 401, the bearer challenge. */
function answerJson(app: Hono, report: (message: string) => void): void {
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    const code = error instanceof ReidError ? error.code : "internal";
    if (code === "internal") report(body.error.message);
    const headers: Record<string, string> = {};
    const answered = STATUS[code] ?? status;
    if (answered === 401) {
      headers["www-authenticate"] =
        code === "operator-refused" ? `${BEARER_REALM}, error="invalid_token"` : BEARER_REALM;
    }
    if (error instanceof TooLarge && error.closing) headers.connection = "close";
    return c.json(body, answered as 400, headers);
  });
}
