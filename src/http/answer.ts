import type { Hono } from "hono";
import { ExitCode, ReidError } from "../errors.js";
import { TooLarge } from "./body.js";
import { RateLimited } from "./rate-limit.js";
import { shorten } from "./schema.js";
import { toWire } from "./wire.js";

/**
 * Failures answer as the wire error (exit code as HTTP status, or the status the refusal names),
 * unknown paths as a 404 naming the path: every surface answers alike. `noun` says what was not
 * found ("endpoint", "page").
 */
export function answerErrors(app: Hono, noun = "endpoint"): void {
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    // A body too large even to read to its end leaves the rest of it on the connection: it closes
    // after this answer, and the client knows not to send another request on it.
    const headers =
      error instanceof TooLarge && error.closing
        ? { connection: "close" }
        : error instanceof RateLimited
          ? { "retry-after": String(error.retryAfter) }
          : undefined;
    return c.json(body, status as 400, headers);
  });
  app.notFound((c) => {
    const { body } = toWire(
      new ReidError(
        "not-found",
        ExitCode.usage,
        `no such ${noun}: ${c.req.method.slice(0, 16)} ${shorten(c.req.path, 128)}`,
      ),
    );
    return c.json(body, 404);
  });
}
