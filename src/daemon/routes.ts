import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import type { Credentials } from "../auth/actor.js";
import type { ElementApi } from "../element/api.js";
import { certificateDays, signingAlgorithm } from "../element/inputs.js";
import type { Notification, RequestType } from "../element/request.js";
import { ExitCode, ReidError, UsageError } from "../errors.js";
import { toWire } from "./protocol.js";

const JSON_LIMIT = 64 * 1024;
/** As much as `reid sign` reads from a file. */
const MESSAGE_LIMIT = 256 * 2 ** 20;
const REQUEST_TYPES: readonly RequestType[] = ["init", "reset", "erase"];

/**
 * The element's JSON API (SPEC section 5). Every route validates its input and answers a bad one
 * with a 4xx naming the problem; nothing a client sends can reach the element unchecked.
 */
export function apiRoutes(
  elementFor: (c: Context) => ElementApi,
  subscribe?: (listener: (notification: Notification) => void) => () => void,
): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    return c.json(body, status as 400);
  });
  app.notFound((c) => {
    const { status, body } = toWire(
      new ReidError("not-found", ExitCode.usage, `no such endpoint: ${c.req.method} ${c.req.path}`),
    );
    return c.json(body, status as 404);
  });
  const json = bodyLimit({ maxSize: JSON_LIMIT, onError: () => tooLarge(JSON_LIMIT) });
  const bytes = bodyLimit({ maxSize: MESSAGE_LIMIT, onError: () => tooLarge(MESSAGE_LIMIT) });

  app.get("/v1/status", async (c) => c.json(await elementFor(c).status()));

  // Every finished request, as it happens (patent FIG. 2, step 210: the user is notified).
  app.get("/events", (c) => {
    if (!subscribe) throw new ReidError("no-events", ExitCode.usage, "this endpoint serves no events");
    return streamSSE(c, async (stream) => {
      // null: a keep-alive comment, so idle connections (and proxies) do not time out.
      const queue: (Notification | null)[] = [];
      let wake: (() => void) | null = null;
      const push = (item: Notification | null) => {
        queue.push(item);
        wake?.();
      };
      const unsubscribe = subscribe(push);
      const keepAlive = setInterval(() => push(null), 15_000);
      stream.onAbort(() => {
        unsubscribe();
        clearInterval(keepAlive);
        wake?.();
      });
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (!stream.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
          continue;
        }
        const next = queue.shift();
        if (next) await stream.writeSSE({ event: "request", data: JSON.stringify(next) });
        else await stream.write(": keep-alive\n\n");
      }
      unsubscribe();
      clearInterval(keepAlive);
    });
  });

  app.post("/v1/requests", json, async (c) => {
    const body = await objectBody(c, ["type", "format"]);
    const type = oneOf(body.type, "type", REQUEST_TYPES);
    const format = optionalString(body.format, "format");
    return c.json(await elementFor(c).submit(type, format));
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
    const pem = await elementFor(c).certificate(signingAlgorithm(body.algorithm), certificateDays(body.days));
    return c.json({ certificate: pem });
  });

  app.post("/v1/csr", json, async (c) => {
    const body = await objectBody(c, ["algorithm", "subject"]);
    const subject = optionalString(body.subject, "subject");
    return c.json({
      request: await elementFor(c).certificationRequest(signingAlgorithm(body.algorithm), subject),
    });
  });

  app.post("/v1/sign", bytes, async (c) => {
    const message = new Uint8Array(await c.req.arrayBuffer());
    const { signature, handle } = await elementFor(c).sign(
      signingAlgorithm(c.req.query("algorithm")),
      message,
    );
    return c.json({ signature: Buffer.from(signature).toString("hex"), handle });
  });

  app.post("/v1/verify", bytes, async (c) => {
    const signature = hexParameter(c.req.query("signature"), "signature");
    const message = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await elementFor(c).verify(signingAlgorithm(c.req.query("algorithm")), message, signature));
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
  const match = /^Pin ([A-Za-z0-9_-]{1,256})$/.exec(header);
  if (!match) throw new UsageError("the Authorization header must be 'Pin <base64url>'");
  return { pin: Buffer.from(match[1] as string, "base64url").toString("utf8") };
}

function tooLarge(limit: number): never {
  throw new ReidError("too-large", 2, `the request body is larger than ${limit} bytes`);
}

/** A JSON object body with no fields but `allowed`. */
async function objectBody(c: Context, allowed: readonly string[]): Promise<Record<string, unknown>> {
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
  if (unknown !== undefined) throw new UsageError(`unknown field '${unknown.slice(0, 64)}'`);
  return body as Record<string, unknown>;
}

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
