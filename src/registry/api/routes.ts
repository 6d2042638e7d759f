import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { AuthError, ExitCode, ReidError } from "../../errors.js";
import { readsBody } from "../../http/operation.js";
import { shorten } from "../../http/schema.js";
import { serveOperations } from "../../http/serve.js";
import { HttpError } from "../../http/wire.js";
import type { RegistryStore } from "../store/store.js";
import { answerOperatorErrors } from "./answers.js";
import type { OperatorHandlers } from "./handlers.js";
import { OPERATOR_OPERATIONS, streamStart } from "./operations.js";
import { checkOperatorToken, OPERATOR_TOKEN_SYNTAX } from "./operator-token.js";

/**
 * The operator's API (docs/spec.md §10.10): the fleet, a device's report, revocation, enrollment
 * tokens and the events (a page, or a stream), each route behind the operator's bearer token.
 * Answers and refusals are JSON, refusals one line as the daemon's API sends them (src/http/wire.ts).
 */
export interface OperatorRoutesOptions {
  readonly store: RegistryStore;
  /** What the operations carry out: the same for the operator's page. */
  readonly handlers: OperatorHandlers;
  /** Told of failures that are reid's own (internal errors), never of refusals. */
  readonly report?: ((message: string) => void) | undefined;
}

/** `Authorization: Bearer TOKEN`. */
const BEARER = new RegExp(`^Bearer +(${OPERATOR_TOKEN_SYNTAX}) *$`, "i");

export function operatorRoutes(options: OperatorRoutesOptions): Hono {
  const { store, handlers } = options;
  const app = new Hono();
  answerOperatorErrors(app, { report: options.report, bearer: true });

  // Every method on an operator path asks for the token first: a caller without it learns nothing
  // else, not even whether its body would do.
  const authorise = operatorToken(store);
  const operations = Object.values(OPERATOR_OPERATIONS.operations);
  const paths = new Set(operations.map((operation) => operation.path));
  for (const path of paths) app.use(path, authorise);
  for (const operation of operations.filter(readsBody)) app.on(operation.method, operation.path, jsonOnly);
  serveOperations(app, OPERATOR_OPERATIONS, (c: Context) => ({
    ...handlers,
    eventStream: () => handlers.stream(streamStart(c.req.query("since"), c.req.header("last-event-id"))),
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
    await checkOperatorToken(store, match[1] as string);
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
