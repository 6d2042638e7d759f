import { type Context, Hono, type MiddlewareHandler } from "hono";
import { streamSSE } from "hono/streaming";
import type { Credentials } from "../auth/actor.js";
import type { SigningAlgorithm } from "../derive/signature.js";
import type { ElementApi } from "../element/api.js";
import { certificateDays, MAX_CERTIFICATE_DAYS, signingAlgorithm } from "../element/inputs.js";
import type { BindingEvent, Notification, RequestType } from "../element/request.js";
import { ExitCode, ReidError, UsageError } from "../errors.js";
import { FACTORY_KINDS } from "../factory/factory-source.js";
import type { ElementMode } from "../storage/record.js";
import { objectBody, shorten } from "./json-body.js";
import { toWire } from "./protocol.js";

const JSON_LIMIT = 64 * 1024;
/** As much as `reid sign` reads from a file. */
const MESSAGE_LIMIT = 256 * 2 ** 20;
/** How much of a body past its limit is still read (and dropped) to keep the connection usable. */
const DRAIN_LIMIT = 64 * 2 ** 20;
const REQUEST_TYPES: readonly RequestType[] = ["init", "reset", "erase"];
const MODES: readonly ElementMode[] = ["random", "factory"];

/**
 * The element's JSON API (SPEC section 5). Every route validates its input and answers a bad one
 * with a 4xx naming the problem; nothing a client sends can reach the element unchecked.
 */
export function apiRoutes(
  elementFor: (c: Context) => ElementApi,
  subscribe?: (listener: (notification: Notification | BindingEvent) => void) => () => void,
  /** Aborted when the daemon stops: event streams end their responses, so followers end cleanly. */
  closing?: AbortSignal,
): Hono {
  const app = new Hono();
  answerErrors(app);
  // A malformed Authorization header is refused on every route, also those that need no owner.
  app.use(async (c, next) => {
    credentialsOf(c);
    await next();
  });
  const json = bodyLimit(JSON_LIMIT);
  const bytes = bodyLimit(MESSAGE_LIMIT);

  app.get("/v1/status", async (c) => c.json(await elementFor(c).status()));

  // Every finished request, as it happens (patent FIG. 2, step 210: the user is notified).
  app.get("/events", (c) => {
    if (!subscribe) throw new ReidError("no-events", ExitCode.usage, "this endpoint serves no events");
    // HEAD is answered like GET, without a body: a stream started for it would never be read or
    // aborted, and its subscription would stay for ever.
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" });
    return streamSSE(c, async (stream) => {
      // null: a keep-alive comment, so idle connections (and proxies) do not time out.
      const queue: (Notification | BindingEvent | null)[] = [];
      let wake: (() => void) | null = null;
      const push = (item: Notification | BindingEvent | null) => {
        queue.push(item);
        wake?.();
      };
      const unsubscribe = subscribe(push);
      const keepAlive = setInterval(() => push(null), 15_000);
      const end = () => wake?.();
      closing?.addEventListener("abort", end);
      stream.onAbort(() => {
        unsubscribe();
        clearInterval(keepAlive);
        wake?.();
      });
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (!stream.aborted && !closing?.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
          continue;
        }
        const next = queue.shift();
        // A binding event names what happened ("bound", "command"...); a request's notification its type.
        if (next)
          await stream.writeSSE({
            event: "event" in next ? "binding" : "request",
            data: JSON.stringify(next),
          });
        else await stream.write(": keep-alive\n\n");
      }
      closing?.removeEventListener("abort", end);
      unsubscribe();
      clearInterval(keepAlive);
    });
  });

  app.post("/v1/requests", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "factory"]);
    const type = oneOf(body.type, "type", REQUEST_TYPES);
    const format = optionalString(body.format, "format");
    if (body.factory !== undefined) {
      if (type !== "init") throw new UsageError("'factory' goes only with an init request");
      return c.json(await elementFor(c).initFactory(oneOf(body.factory, "factory", FACTORY_KINDS), format));
    }
    return c.json(await elementFor(c).submit(type, format));
  });

  app.post("/v1/mode", json, async (c) => {
    const body = await objectBody(c, ["mode"]);
    return c.json(await elementFor(c).switchMode(oneOf(body.mode, "mode", MODES)));
  });

  app.post("/v1/schedule", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "at"]);
    const type = oneOf(body.type, "type", REQUEST_TYPES);
    const format = optionalString(body.format, "format");
    if (typeof body.at !== "string") throw new UsageError("'at' must be an ISO-8601 time");
    return c.json(await elementFor(c).schedule(type, format, body.at));
  });

  app.delete("/v1/schedule/:id", async (c) => c.json(await elementFor(c).cancelScheduled(c.req.param("id"))));

  app.put("/v1/config", json, async (c) => {
    const body = await objectBody(c, ["singleType"]);
    if (typeof body.singleType !== "boolean") throw new UsageError("'singleType' must be true or false");
    return c.json(await elementFor(c).setSingleType(body.singleType));
  });

  app.post("/v1/seal", async (c) => c.json(await elementFor(c).seal()));

  app.get("/v1/keys", async (c) => c.json(await elementFor(c).keys()));

  app.post("/v1/certificate", json, async (c) => {
    const body = await objectBody(c, ["algorithm", "days"]);
    const pem = await elementFor(c).certificate(algorithmOf(body.algorithm), daysOf(body.days));
    return c.json({ certificate: pem });
  });

  app.post("/v1/csr", json, async (c) => {
    const body = await objectBody(c, ["algorithm", "subject"]);
    const subject = optionalString(body.subject, "subject");
    return c.json({
      request: await elementFor(c).certificationRequest(algorithmOf(body.algorithm), subject),
    });
  });

  app.post("/v1/sign", bytes, async (c) => {
    const message = new Uint8Array(await c.req.arrayBuffer());
    const { signature, handle } = await elementFor(c).sign(algorithmOf(c.req.query("algorithm")), message);
    return c.json({ signature: Buffer.from(signature).toString("hex"), handle });
  });

  app.post("/v1/verify", bytes, async (c) => {
    const signature = hexParameter(c.req.query("signature"), "signature");
    const message = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await elementFor(c).verify(algorithmOf(c.req.query("algorithm")), message, signature));
  });

  app.post("/v1/pin", json, async (c) => {
    const body = await objectBody(c, ["newPin"]);
    if (typeof body.newPin !== "string") throw new UsageError("'newPin' must be a string");
    return c.json(await elementFor(c).setPin(body.newPin));
  });

  app.post("/v1/pin/unlock", json, async (c) => {
    const body = await objectBody(c, ["recoveryCode"]);
    if (typeof body.recoveryCode !== "string" || body.recoveryCode.length > 64) {
      throw new UsageError("'recoveryCode' must be a string of at most 64 characters");
    }
    return c.json(await elementFor(c).unlockPin(body.recoveryCode));
  });

  app.get("/v1/log", async (c) => c.json(await elementFor(c).auditLog()));

  app.post("/v1/export", json, async (c) => {
    const body = await objectBody(c, ["wrapKey"]);
    const key = hexParameter(body.wrapKey, "wrapKey");
    if (key.length !== 32) throw new UsageError("'wrapKey' must be 32 bytes (64 hex digits)");
    try {
      const { wrapped, generation, handle } = await elementFor(c).exportWrapped(key);
      return c.json({ wrapped: Buffer.from(wrapped).toString("hex"), generation, handle });
    } finally {
      key.fill(0);
    }
  });

  return app;
}

/** The credentials a caller sent: "Authorization: Pin <base64url of the UTF-8 PIN>". */
export function credentialsOf(c: Context): Credentials {
  const header = c.req.header("authorization");
  if (header === undefined) return {};
  // A PIN is at most 128 characters, 512 bytes of UTF-8: 683 in base64url.
  const match = /^Pin ([A-Za-z0-9_-]{1,683})$/.exec(header);
  if (!match) throw new UsageError("the Authorization header must be 'Pin <base64url>'");
  return { pin: Buffer.from(match[1] as string, "base64url").toString("utf8") };
}

/** A body over its limit; `closing`: so far over that the connection is closed after the answer. */
/**
 * Failures answer as the wire error (SPEC exit code as HTTP status), unknown paths as a 404 naming
 * the path: the daemon's API and the device's binding endpoint answer alike.
 */
export function answerErrors(app: Hono): void {
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    // A body too large even to read to its end leaves the rest of it on the connection: it closes
    // after this answer, and the client knows not to send another request on it.
    const headers = error instanceof TooLarge && error.closing ? { connection: "close" } : undefined;
    return c.json(body, status as 400, headers);
  });
  app.notFound((c) => {
    const { body } = toWire(
      new ReidError(
        "not-found",
        ExitCode.usage,
        `no such endpoint: ${c.req.method.slice(0, 16)} ${shorten(c.req.path, 128)}`,
      ),
    );
    return c.json(body, 404);
  });
}

class TooLarge extends ReidError {
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

/** An algorithm as a client sent it: checked as the CLI checks --alg, echoed only when short. */
function algorithmOf(value: unknown): SigningAlgorithm {
  if (value === undefined || (typeof value === "string" && value.length <= 32))
    return signingAlgorithm(value);
  throw new UsageError("'algorithm' must be ed25519 or p256");
}

/** Days as a client sent them: a whole number (or its digits), checked as the CLI checks --days. */
function daysOf(value: unknown): number {
  if (value === undefined || (typeof value === "number" && Number.isFinite(value)))
    return certificateDays(value);
  if (typeof value === "string" && value.length <= 32) return certificateDays(value);
  throw new UsageError(`'days' must be whole days from 1 to ${MAX_CERTIFICATE_DAYS}`);
}

/** At most `length` characters of something a client sent, for a message. */
function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (allowed.includes(value as T)) return value as T;
  throw new UsageError(`'${name}' must be one of ${allowed.join(", ")}`);
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.length <= 1024) return value;
  throw new UsageError(`'${name}' must be a string of at most 1024 characters`);
}

function hexParameter(value: unknown, name: string): Uint8Array {
  if (typeof value === "string" && value.length <= 4096 && /^(?:[0-9a-fA-F]{2})+$/.test(value)) {
    return Buffer.from(value, "hex");
  }
  throw new UsageError(`'${name}' must be hex`);
}
