import { type Context, Hono } from "hono";
import type { SigningAlgorithm } from "../derive/signature.js";
import type { ElementApi } from "../element/api.js";
import { certificateDays, MAX_CERTIFICATE_DAYS, signingAlgorithm } from "../element/inputs.js";
import { type BindingEvent, type Notification, REQUEST_TYPES } from "../element/request.js";
import { ExitCode, ReidError, UsageError } from "../errors.js";
import { FACTORY_KINDS } from "../factory/factory-source.js";
import { answerErrors } from "../http/answer.js";
import { bodyLimit, objectBody } from "../http/body.js";
import { credentialsOf } from "../http/credentials.js";
import { bytes, flag, oneOf, optional, pin, text } from "../http/schema.js";
import { eventStream } from "../http/sse.js";
import type { ElementMode } from "../storage/record.js";

const JSON_LIMIT = 64 * 1024;
/** As much as `reid sign` reads from a file. */
const MESSAGE_LIMIT = 256 * 2 ** 20;
const requestType = oneOf(REQUEST_TYPES);
const mode = oneOf<ElementMode>(["random", "factory"]);
const factory = oneOf(FACTORY_KINDS);
const format = optional(text({ max: 1024 }));
const at = text({ max: 64, message: () => "'at' must be an ISO-8601 time" });
const recoveryCode = text({ max: 64 });
const wrapKey = bytes({ length: 32 }, () => "'wrapKey' must be 32 bytes (64 hex digits)");
const signatureHex = bytes({ max: 2048 }, () => "'signature' must be hex");

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
  const octets = bodyLimit(MESSAGE_LIMIT);

  app.get("/v1/status", async (c) => c.json(await elementFor(c).status()));

  // Every finished request, as it happens (patent FIG. 2, step 210: the user is notified).
  app.get("/events", (c) => {
    if (!subscribe) throw new ReidError("no-events", ExitCode.usage, "this endpoint serves no events");
    // A binding event names what happened ("bound", "command"...); a request's notification its type.
    return eventStream<Notification | BindingEvent>(c, {
      subscribe,
      name: (event) => ("event" in event ? "binding" : "request"),
      ...(closing ? { until: closing } : {}),
    });
  });

  app.post("/v1/requests", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "factory"]);
    const type = requestType.read(body.type, "type");
    const given = format.read(body.format, "format");
    if (body.factory !== undefined) {
      if (type !== "init") throw new UsageError("'factory' goes only with an init request");
      return c.json(await elementFor(c).initFactory(factory.read(body.factory, "factory"), given));
    }
    return c.json(await elementFor(c).submit(type, given));
  });

  app.post("/v1/mode", json, async (c) => {
    const body = await objectBody(c, ["mode"]);
    return c.json(await elementFor(c).switchMode(mode.read(body.mode, "mode")));
  });

  app.post("/v1/schedule", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "at"]);
    const type = requestType.read(body.type, "type");
    return c.json(
      await elementFor(c).schedule(type, format.read(body.format, "format"), at.read(body.at, "at")),
    );
  });

  app.delete("/v1/schedule/:id", async (c) =>
    c.json(await elementFor(c).cancelScheduled(text({ max: 1024 }).read(c.req.param("id"), "id"))),
  );

  app.put("/v1/config", json, async (c) => {
    const body = await objectBody(c, ["singleType"]);
    return c.json(await elementFor(c).setSingleType(flag.read(body.singleType, "singleType")));
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
    const subject = optional(text({ max: 1024 })).read(body.subject, "subject");
    return c.json({
      request: await elementFor(c).certificationRequest(algorithmOf(body.algorithm), subject),
    });
  });

  app.post("/v1/sign", octets, async (c) => {
    const message = new Uint8Array(await c.req.arrayBuffer());
    const { signature, handle } = await elementFor(c).sign(algorithmOf(c.req.query("algorithm")), message);
    return c.json({ signature: Buffer.from(signature).toString("hex"), handle });
  });

  app.post("/v1/verify", octets, async (c) => {
    const signature = signatureHex.read(c.req.query("signature"), "signature");
    const message = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await elementFor(c).verify(algorithmOf(c.req.query("algorithm")), message, signature));
  });

  app.post("/v1/pin", json, async (c) => {
    const body = await objectBody(c, ["newPin"]);
    return c.json(await elementFor(c).setPin(pin.read(body.newPin, "newPin")));
  });

  app.post("/v1/pin/unlock", json, async (c) => {
    const body = await objectBody(c, ["recoveryCode"]);
    return c.json(await elementFor(c).unlockPin(recoveryCode.read(body.recoveryCode, "recoveryCode")));
  });

  app.get("/v1/log", async (c) => c.json(await elementFor(c).auditLog()));

  app.post("/v1/export", json, async (c) => {
    const body = await objectBody(c, ["wrapKey"]);
    const key = wrapKey.read(body.wrapKey, "wrapKey");
    try {
      const { wrapped, generation, handle } = await elementFor(c).exportWrapped(key);
      return c.json({ wrapped: Buffer.from(wrapped).toString("hex"), generation, handle });
    } finally {
      key.fill(0);
    }
  });

  return app;
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
