import type { Context } from "hono";
import { UsageError } from "../errors.js";

/**
 * A JSON object body, sent as application/json, with no fields but `allowed`: the one way both
 * HTTP surfaces (the daemon's API and the page) read a body. Anything else is refused before it is
 * read: a browser may send text/plain or a form to a local port without asking first, never
 * application/json.
 */
export async function objectBody(c: Context, allowed: readonly string[]): Promise<Record<string, unknown>> {
  if (!/^application\/json\s*(?:;.*)?$/i.test(c.req.header("content-type") ?? "")) {
    throw new UsageError("the request body must be JSON, sent with 'Content-Type: application/json'");
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new UsageError("the request body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new UsageError("the request body must be a JSON object");
  }
  const unknown = Object.keys(body).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw new UsageError(`unknown field '${shorten(unknown, 64)}'`);
  return body as Record<string, unknown>;
}

/** Echoed input stays short. */
export function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length)}...`;
}
