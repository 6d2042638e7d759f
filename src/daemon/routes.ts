import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ElementApi } from "../element/api.js";
import { certificateDays, signingAlgorithm } from "../element/inputs.js";
import type { RequestType } from "../element/request.js";
import { ReidError, UsageError } from "../errors.js";
import { toWire } from "./protocol.js";

const JSON_LIMIT = 64 * 1024;
/** As much as `reid sign` reads from a file. */
const MESSAGE_LIMIT = 256 * 2 ** 20;
const REQUEST_TYPES: readonly RequestType[] = ["init", "reset", "erase"];

/**
 * The element's JSON API (SPEC section 5). Every route validates its input and answers a bad one
 * with a 4xx naming the problem; nothing a client sends can reach the element unchecked.
 */
export function apiRoutes(element: ElementApi): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    return c.json(body, status as 400);
  });
  app.notFound((c) => {
    const { status, body } = toWire(
      new ReidError("not-found", 2, `no such endpoint: ${c.req.method} ${c.req.path}`),
    );
    return c.json(body, status as 404);
  });
  const json = bodyLimit({ maxSize: JSON_LIMIT, onError: () => tooLarge(JSON_LIMIT) });
  const bytes = bodyLimit({ maxSize: MESSAGE_LIMIT, onError: () => tooLarge(MESSAGE_LIMIT) });

  app.get("/v1/status", async (c) => c.json(await element.status()));

  app.post("/v1/requests", json, async (c) => {
    const body = await objectBody(c, ["type", "format"]);
    const type = oneOf(body.type, "type", REQUEST_TYPES);
    const format = optionalString(body.format, "format");
    return c.json(await element.submit(type, format));
  });

  app.put("/v1/config", json, async (c) => {
    const body = await objectBody(c, ["singleType"]);
    if (typeof body.singleType !== "boolean") throw new UsageError("'singleType' must be true or false");
    return c.json(await element.setSingleType(body.singleType));
  });

  app.post("/v1/seal", async (c) => c.json(await element.seal()));

  app.get("/v1/keys", async (c) => c.json(await element.keys()));

  app.post("/v1/certificate", json, async (c) => {
    const body = await objectBody(c, ["algorithm", "days"]);
    const pem = await element.certificate(signingAlgorithm(body.algorithm), certificateDays(body.days));
    return c.json({ certificate: pem });
  });

  app.post("/v1/csr", json, async (c) => {
    const body = await objectBody(c, ["algorithm", "subject"]);
    const subject = optionalString(body.subject, "subject");
    return c.json({ request: await element.certificationRequest(signingAlgorithm(body.algorithm), subject) });
  });

  app.post("/v1/sign", bytes, async (c) => {
    const message = new Uint8Array(await c.req.arrayBuffer());
    const { signature, handle } = await element.sign(signingAlgorithm(c.req.query("algorithm")), message);
    return c.json({ signature: Buffer.from(signature).toString("hex"), handle });
  });

  app.post("/v1/verify", bytes, async (c) => {
    const signature = hexParameter(c.req.query("signature"), "signature");
    const message = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await element.verify(signingAlgorithm(c.req.query("algorithm")), message, signature));
  });

  app.post("/v1/export", json, async (c) => {
    const body = await objectBody(c, ["wrapKey"]);
    const key = hexParameter(body.wrapKey, "wrapKey");
    if (key.length !== 32) throw new UsageError("'wrapKey' must be 32 bytes (64 hex digits)");
    try {
      const { wrapped, generation, handle } = await element.exportWrapped(key);
      return c.json({ wrapped: Buffer.from(wrapped).toString("hex"), generation, handle });
    } finally {
      key.fill(0);
    }
  });

  return app;
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
