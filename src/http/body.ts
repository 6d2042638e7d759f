import type { Context, MiddlewareHandler } from "hono";
import { ExitCode, ReidError, UsageError } from "../errors.js";
import { type Schema, shorten } from "./schema.js";

/** How much of a body past its limit is still read (and dropped) to keep the connection usable. */
const DRAIN_LIMIT = 64 * 2 ** 20;

/**
 * A JSON object body, sent as application/json, with no fields but `allowed`: the one way every
 * HTTP surface reads a body. Anything else is refused before it is read: a browser may send
 * text/plain or a form to a local port without asking first, never application/json.
 */
export async function objectBody(
  c: Context,
  allowed: readonly string[],
  /** Fields checked before the others are even looked at (a protocol's version). */
  first: Readonly<Record<string, Schema<unknown>>> = {},
): Promise<Record<string, unknown>> {
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
  for (const [name, schema] of Object.entries(first)) {
    if (Object.hasOwn(body, name)) schema.read((body as Record<string, unknown>)[name], name);
  }
  const unknown = Object.keys(body).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw new UsageError(`unknown field '${shorten(unknown, 64)}'`);
  return body as Record<string, unknown>;
}

/** A body over its limit; `closing`: so far over that the connection is closed after the answer. */
export class TooLarge extends ReidError {
  constructor(
    limit: number,
    readonly closing: boolean,
  ) {
    super("too-large", ExitCode.usage, `the request body is larger than ${limit} bytes`);
  }
}

/**
 * Refuses a body larger than `limit` bytes. One that declares its length is refused before it is
 * read (the server then reads what is left of it, and drops it). A streamed (chunked) one is read
 * to its end, what is past the limit dropped, so the answer and the connection's next request are
 * not lost; past DRAIN_LIMIT more, reading stops and the connection is closed after the answer.
 */
export function bodyLimit(limit: number): MiddlewareHandler {
  return async (c, next) => {
    // Decided on the header alone: a body only looked at (c.req.raw.body) is held back for its
    // reader, and the server could not drop what is left of it, but closes the connection instead.
    const declared = c.req.header("content-length");
    if (declared !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (Number(declared) > limit) throw new TooLarge(limit, Number(declared) - limit > DRAIN_LIMIT);
      return next();
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= limit) chunks.push(value);
      else if (size - limit > DRAIN_LIMIT) {
        await reader.cancel();
        throw new TooLarge(limit, true);
      }
    }
    if (size > limit) throw new TooLarge(limit, false);
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
