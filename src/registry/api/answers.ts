import type { Hono } from "hono";
import { ReidError } from "../../errors.js";
import { TooLarge } from "../../http/body.js";
import { toWire } from "../../http/wire.js";

export const BEARER_REALM = 'Bearer realm="reid registry"';

/** The HTTP status of each refusal of the operator's routes; the others take their exit code's (§3.3). */
const STATUS: Readonly<Record<string, number>> = {
  "no-credentials": 401,
  "operator-refused": 401,
  "unknown-device": 404,
  "not-found": 404,
  "too-large": 413,
  "not-json": 415,
};

/**
 * Every failure of `app` as one line of JSON (docs/spec.md §10.10), with its status; reid's own
 * failures are also told to `report`. With `bearer`, a 401 carries the bearer challenge: a page
 * signed in by a session asks for no header.
 */
export function answerOperatorErrors(
  app: Hono,
  options: { readonly report?: ((message: string) => void) | undefined; readonly bearer: boolean },
): void {
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    const code = error instanceof ReidError ? error.code : "internal";
    if (code === "internal") options.report?.(body.error.message);
    const headers: Record<string, string> = {};
    const answered = STATUS[code] ?? status;
    if (answered === 401 && options.bearer) {
      headers["www-authenticate"] =
        code === "operator-refused" ? `${BEARER_REALM}, error="invalid_token"` : BEARER_REALM;
    }
    if (error instanceof TooLarge && error.closing) headers.connection = "close";
    return c.json(body, answered as 400, headers);
  });
}
