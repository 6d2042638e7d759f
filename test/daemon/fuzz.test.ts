// Malformed API requests against a real daemon (issue 4): 100,000 requests drawn by fast-check,
// sent over the daemon's Unix socket several at a time. Every one must be answered with a 4xx and
// a one-line JSON error; the daemon must stay up, its status unchanged, and the stored identifier
// byte-identical.
//
// Every request is built from one that the daemon would carry out (a reset, a certificate, a
// signature...) and then broken in exactly one way, so a check that let the fault through would
// show as a 2xx (or as a changed identifier), never pass unnoticed. A control test sends the
// unbroken forms and expects them to succeed.
import assert from "node:assert/strict";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DAEMON_API } from "../../src/daemon/routes.js";
import { describeOperations } from "../../src/http/operation.js";
import { storedIdentifier } from "../cli/store.js";
import { reid, reidOk } from "../helpers/cli.js";
import { type ServedDaemon, serve } from "../helpers/daemon.js";
import { assertSameSecret } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

/** REID_FUZZ_TOTAL runs fewer while working on the fuzzer; the test as committed sends 100,000. */
const TOTAL = Number(process.env.REID_FUZZ_TOTAL ?? 100_000);
/** Requests in flight at once, and between two status checks. */
const BATCH = 16;
const JSON_LIMIT = 64 * 1024;

interface Fuzzed {
  /** What was broken, for the failure message. */
  readonly fault: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  /** Sent in pieces, without a Content-Length (chunked). */
  readonly chunked?: boolean;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const JSON_HEADERS = { "content-type": "application/json" };
const OCTETS = { "content-type": "application/octet-stream" };

/** A JSON value of any type but a string. */
const notString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** Any JSON value, of any type. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A long string, made by repetition (drawing 60,000 characters one by one would be slow). */
function longString(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.string({ minLength: 1, maxLength: 8, unit: "grapheme-ascii" }), fc.integer({ min, max }))
    .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
}

/** JSON text to put in a body as it is (values too deep for JSON.stringify to write). */
class Raw {
  constructor(readonly json: string) {}
}

/** A value nested thousands of arrays (or objects) deep: never a string, never a boolean. */
const deepValue = fc
  .tuple(fc.integer({ min: 50, max: 15_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? new Raw(`${"[".repeat(depth)}${"]".repeat(depth)}`)
      : new Raw(`${'{"a":'.repeat(depth / 2)}{}${"}".repeat(depth / 2)}`),
  );

function toJson(value: unknown): string {
  return value instanceof Raw ? value.json : JSON.stringify(value);
}

const future = fc
  .integer({ min: 3600, max: 10 * 365 * 86_400 })
  .map((seconds) => new Date(Date.now() + seconds * 1000).toISOString());
const algorithm = fc.constantFrom("ed25519", "p256");
const hex = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((bytes) => Buffer.from(bytes).toString("hex"));

const FORMAT = /^(raw|digits|base32)(?::(\d{1,6}))?$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** The shape of a PIN header, of any length (the daemon also bounds its length). */
const PIN_SHAPED = /^Pin [A-Za-z0-9_-]+$/;

// ---------------------------------------------------------------------------------------------
// The JSON routes: a valid body, and the ways each field can be wrong

interface JsonRoute {
  readonly method: string;
  readonly path: string;
  readonly fields: readonly string[];
  readonly required: readonly string[];
  /** Bodies the daemon accepts (on a set element without a PIN). */
  readonly valid: fc.Arbitrary<Record<string, unknown>>;
  /** For each field, values the daemon must refuse. */
  readonly bad: Record<string, fc.Arbitrary<unknown>>;
}

const badFormat = fc.oneof(
  notString,
  longString(1025, 5000),
  fc.constantFrom(
    "digits:1",
    "raw:0",
    "raw:15",
    "raw:65",
    "base32:25",
    "digits:38",
    "raw:",
    "raw:1234567",
    "RAW",
  ),
  fc.string({ maxLength: 40 }).filter((text) => !FORMAT.test(text)),
);

const JSON_ROUTES: readonly JsonRoute[] = [
  {
    method: "POST",
    path: "/v1/requests",
    fields: ["type", "format", "factory"],
    required: ["type"],
    valid: fc.oneof(
      fc.constant({ type: "erase" }),
      fc.record(
        { type: fc.constant("reset"), format: fc.constantFrom("raw", "raw:32", "digits:40", "base32:30") },
        { requiredKeys: ["type"] },
      ),
    ),
    bad: {
      type: anyJson.filter((value) => !["init", "reset", "erase"].includes(value as string)),
      format: badFormat,
      // Only init takes a factory source, and only a known one.
      factory: anyJson.filter((value) => !["puf-sim", "tpm", "host"].includes(value as string)),
    },
  },
  {
    method: "POST",
    path: "/v1/schedule",
    fields: ["type", "format", "at"],
    required: ["type", "at"],
    valid: fc.record({ type: fc.constantFrom("init", "reset", "erase"), at: future }),
    bad: {
      type: anyJson.filter((value) => !["init", "reset", "erase"].includes(value as string)),
      format: badFormat,
      at: fc.oneof(
        notString,
        fc.constantFrom(
          "2001-01-01T00:00:00Z",
          "2030-13-45T25:61:00Z",
          "2030-01-01T00:00:00",
          "2030-01-01",
          "",
        ),
        fc.string({ maxLength: 40 }).filter((text) => !ISO.test(text)),
        fc.date({ max: new Date("2020-01-01"), noInvalidDate: true }).map((date) => date.toISOString()),
      ),
    },
  },
  {
    method: "PUT",
    path: "/v1/config",
    fields: ["singleType"],
    required: ["singleType"],
    valid: fc.record({ singleType: fc.boolean() }),
    bad: { singleType: anyJson.filter((value) => typeof value !== "boolean") },
  },
  {
    method: "POST",
    path: "/v1/certificate",
    fields: ["algorithm", "days"],
    required: [],
    valid: fc.record({ algorithm, days: fc.integer({ min: 1, max: 36_500 }) }, { requiredKeys: [] }),
    bad: {
      algorithm: anyJson.filter((value) => value !== "ed25519" && value !== "p256"),
      days: fc.oneof(
        fc.integer({ max: 0 }),
        fc.integer({ min: 36_501 }),
        fc.double({ min: 1.001, max: 36_499.999, noNaN: true }).filter((n) => !Number.isInteger(n)),
        fc.string({ maxLength: 10 }).filter((text) => !/^\d+$/.test(text)),
        fc.constantFrom("0", "36501", "99999999999999999999"),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.integer({ min: 1, max: 365 }), { minLength: 1, maxLength: 2 }),
        fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
      ),
    },
  },
  {
    method: "POST",
    path: "/v1/csr",
    fields: ["algorithm", "subject"],
    required: [],
    valid: fc.record(
      { algorithm, subject: fc.constantFrom("CN=sensor-7, O=Acme", "CN=a", "O=x+OU=y", "C=DE, CN=z") },
      { requiredKeys: [] },
    ),
    bad: {
      algorithm: anyJson.filter((value) => value !== "ed25519" && value !== "p256"),
      subject: fc.oneof(
        notString,
        longString(1025, 4000),
        fc.string({ maxLength: 60 }).filter((text) => !text.includes("=")),
        fc.constantFrom("CN=", "=x", "XYZ=1", "C=USA", "CN=a,", "CN=a, =b", "1.2=3,O="),
      ),
    },
  },
  {
    method: "POST",
    path: "/v1/pin",
    fields: ["newPin"],
    required: ["newPin"],
    valid: fc.string({ minLength: 6, maxLength: 20, unit: "grapheme-ascii" }).map((newPin) => ({ newPin })),
    bad: {
      newPin: fc.oneof(
        notString,
        fc.string({ maxLength: 5, unit: "grapheme-ascii" }),
        longString(129, 2000),
        fc
          .tuple(fc.string({ minLength: 6, maxLength: 20 }), fc.constantFrom("\n", "\r", "\0"))
          .map(([pin, bad]) => `${pin.slice(0, 3)}${bad}${pin.slice(3)}`),
      ),
    },
  },
  {
    method: "POST",
    path: "/v1/pin/unlock",
    fields: ["recoveryCode"],
    required: ["recoveryCode"],
    // Without a PIN there is nothing to unlock: even this is refused (as a state the caller got wrong).
    valid: fc.string({ maxLength: 64 }).map((recoveryCode) => ({ recoveryCode })),
    bad: { recoveryCode: fc.oneof(notString, longString(65, 3000)) },
  },
  {
    method: "POST",
    path: "/v1/export",
    fields: ["wrapKey"],
    required: ["wrapKey"],
    valid: hex(32, 32).map((wrapKey) => ({ wrapKey })),
    bad: {
      wrapKey: fc.oneof(
        notString,
        hex(0, 31),
        hex(33, 100),
        hex(32, 32).map((key) => key.slice(1)),
        hex(32, 32).map((key) => `${key.slice(0, 10)}zz${key.slice(12)}`),
        longString(4097, 9000),
      ),
    },
  },
];

/** `body` as JSON, with `key: value` put first (written out by hand: "__proto__" is a key too). */
function withField(body: Record<string, unknown>, key: string, value: unknown): string {
  const rest = Object.entries(body)
    .filter(([name]) => name !== key)
    .map(([name, field]) => `${JSON.stringify(name)}:${JSON.stringify(field)}`);
  return `{${[`${JSON.stringify(key)}:${toJson(value)}`, ...rest].join(",")}}`;
}

function jsonRequest(route: JsonRoute, fault: string, body: string | Buffer, headers = {}): Fuzzed {
  return {
    fault: `${route.path}: ${fault}`,
    method: route.method,
    path: route.path,
    headers: { ...JSON_HEADERS, ...headers },
    body: Buffer.from(body),
  };
}

const BAD_CONTENT_TYPES = [
  "text/plain",
  "text/plain;charset=UTF-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonx",
  "application/json-patch+json",
  "application/ld+json",
  "text/json",
  "json",
  "*/*",
  "application/octet-stream",
  "application/json, text/plain",
];

/** One JSON route's valid body, broken in one way. */
function brokenJson(route: JsonRoute): fc.Arbitrary<Fuzzed> {
  const fields = Object.keys(route.bad);
  const wrongField = fc
    .tuple(route.valid, fc.constantFrom(...fields))
    .chain(([body, field]) =>
      (route.bad[field] as fc.Arbitrary<unknown>).map((value) =>
        jsonRequest(route, `bad '${field}'`, withField(body, field, value)),
      ),
    );
  const hugeField = fc
    .tuple(route.valid, fc.constantFrom(...fields), fc.oneof(longString(5000, 60_000), deepValue))
    .map(([body, field, value]) =>
      jsonRequest(route, `huge or deep '${field}'`, withField(body, field, value)),
    );
  const unknownField = fc
    .tuple(
      route.valid,
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom("__proto__", "constructor", "prototype", "toString", "Type", "pin", "id"),
      ),
      anyJson,
    )
    .filter(([, key]) => !route.fields.includes(key))
    .map(([body, key, value]) => jsonRequest(route, `unknown field '${key}'`, withField(body, key, value)));
  const missing = route.required.length
    ? fc
        .tuple(route.valid, fc.constantFrom(...route.required))
        .map(([body, field]) =>
          jsonRequest(
            route,
            `missing '${field}'`,
            JSON.stringify(Object.fromEntries(Object.entries(body).filter(([name]) => name !== field))),
          ),
        )
    : null;
  const notObject = fc
    .oneof(
      anyJson.filter((value) => typeof value !== "object" || value === null || Array.isArray(value)),
      route.valid.map((body) => [body]),
      deepValue.filter((value) => value.json.startsWith("[")),
    )
    .map((value) => jsonRequest(route, "not an object", toJson(value)));
  const notJson = fc
    .oneof(
      fc.string({ maxLength: 60 }).filter((text) => !parses(text)),
      route.valid.chain((body) => {
        const text = JSON.stringify(body);
        return fc.integer({ min: 0, max: text.length - 1 }).map((cut) => text.slice(0, cut));
      }),
      route.valid.map((body) => `${JSON.stringify(body)}}`),
      route.valid.map((body) => JSON.stringify(body).replaceAll('"', "'")),
      route.valid.map((body) => JSON.stringify(body).replace(/"(\w+)":/g, "$1:")),
      fc.constantFrom("", "{", "nul", "{}{}", "[1,]", "{'a':1}", "\u00ff\u00fe"),
    )
    .filter((text) => !parses(text))
    .map((text) => jsonRequest(route, "not JSON", text));
  const wrongType = fc
    .tuple(route.valid, fc.option(fc.constantFrom(...BAD_CONTENT_TYPES), { nil: undefined }))
    .map(([body, type]) => {
      const request = jsonRequest(route, `content type ${type ?? "missing"}`, JSON.stringify(body));
      const { "content-type": _, ...headers } = request.headers;
      return { ...request, headers: type === undefined ? headers : { ...headers, "content-type": type } };
    });
  // Valid JSON padded with whitespace past the limit: only the size is wrong.
  const oversized = fc
    .tuple(route.valid, fc.integer({ min: JSON_LIMIT + 1, max: 3 * JSON_LIMIT }), fc.boolean())
    .map(([body, size, chunked]) => {
      const text = JSON.stringify(body);
      return {
        ...jsonRequest(
          route,
          `oversized (${size} bytes${chunked ? ", chunked" : ""})`,
          text + " ".repeat(size),
        ),
        chunked,
      };
    });
  return fc.oneof(
    { arbitrary: wrongField, weight: 6 },
    { arbitrary: hugeField, weight: 1 },
    { arbitrary: unknownField, weight: 2 },
    ...(missing ? [{ arbitrary: missing, weight: 1 }] : []),
    { arbitrary: notObject, weight: 2 },
    { arbitrary: notJson, weight: 2 },
    { arbitrary: wrongType, weight: 2 },
    { arbitrary: oversized, weight: 1 },
  );
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The other routes

const message = fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes));
/** Query values with no escapes (so what is sent is what the daemon reads). */
const queryText = fc.stringMatching(/^[A-Za-z0-9._~-]{0,40}$/);

const validSign = fc.tuple(fc.option(algorithm, { nil: undefined }), message).map(
  ([alg, body]): Fuzzed => ({
    fault: "none",
    method: "POST",
    path: alg ? `/v1/sign?algorithm=${alg}` : "/v1/sign",
    headers: OCTETS,
    body,
  }),
);
const validVerify = fc.tuple(algorithm, hex(1, 80), message).map(
  ([alg, signature, body]): Fuzzed => ({
    fault: "none",
    method: "POST",
    path: `/v1/verify?algorithm=${alg}&signature=${signature}`,
    headers: OCTETS,
    body,
  }),
);

const badAlgorithm = queryText.filter((text) => text !== "ed25519" && text !== "p256");
const badQuery: fc.Arbitrary<Fuzzed> = fc.oneof(
  fc.tuple(badAlgorithm, message).map(([alg, body]) => ({
    fault: `sign: algorithm '${alg}'`,
    method: "POST",
    path: `/v1/sign?algorithm=${alg}`,
    headers: OCTETS,
    body,
  })),
  fc.tuple(badAlgorithm, hex(64, 64), message).map(([alg, signature, body]) => ({
    fault: `verify: algorithm '${alg}'`,
    method: "POST",
    path: `/v1/verify?algorithm=${alg}&signature=${signature}`,
    headers: OCTETS,
    body,
  })),
  fc
    .tuple(
      fc.oneof(
        fc.constant(null),
        fc.constant(""),
        queryText.filter((text) => !/^(?:[0-9a-fA-F]{2})+$/.test(text)),
        hex(0, 40).map((text) => `${text}0`),
        hex(2049, 3000),
      ),
      fc.option(algorithm, { nil: undefined }),
      message,
    )
    .map(([signature, alg, body]) => ({
      fault: `verify: signature ${signature === null ? "missing" : `'${signature.slice(0, 20)}'`}`,
      method: "POST",
      path: `/v1/verify?${[alg ? `algorithm=${alg}` : "", signature === null ? "" : `signature=${signature}`]
        .filter(Boolean)
        .join("&")}`,
      headers: OCTETS,
      body,
    })),
);

/** Requests the daemon carries out as they are (on a set element without a PIN). */
const VALID: fc.Arbitrary<Fuzzed> = fc.oneof(
  fc.constantFrom<Fuzzed>(
    { fault: "none", method: "GET", path: "/v1/status", headers: {} },
    { fault: "none", method: "GET", path: "/v1/keys", headers: {} },
    { fault: "none", method: "GET", path: "/v1/log", headers: {} },
    { fault: "none", method: "GET", path: "/events", headers: {} },
  ),
  validSign,
  validVerify,
  ...JSON_ROUTES.filter((route) => route.path !== "/v1/pin/unlock").map((route) =>
    route.valid.map((body) => ({ ...jsonRequest(route, "none", JSON.stringify(body)), fault: "none" })),
  ),
);

/** An Authorization header the daemon must refuse (it checks the form even where no PIN is needed). */
const badAuthorization = fc.oneof(
  fc
    .oneof(
      fc.string({ maxLength: 40, unit: "grapheme-ascii" }).map((token) => `Bearer ${token}`),
      fc.base64String({ maxLength: 40 }).map((token) => `Basic ${token}`),
      fc.constantFrom(
        "Pin",
        "Pin ",
        "pin abcdef",
        "PIN abcdef",
        "Pin a+b",
        "Pin a/b",
        "Pin abc=",
        "Pin a b",
        "Pin\tabc",
      ),
      fc.string({ maxLength: 40, unit: "grapheme-ascii" }),
    )
    // The daemon trims a header's outer whitespace; what is left must still be malformed.
    .filter((value) => value.trim() !== "" && !PIN_SHAPED.test(value.trim())),
  // Far longer than the longest PIN (128 characters) can encode to.
  longString(3000, 6000).map((text) => `Pin ${Buffer.from(text).toString("base64url")}`),
);

const withBadAuthorization: fc.Arbitrary<Fuzzed> = fc
  .tuple(VALID, badAuthorization, fc.boolean())
  .map(([request, authorization, twice]) => ({
    ...request,
    fault: `Authorization '${authorization.slice(0, 30)}' on ${request.method} ${request.path.split("?")[0]}`,
    headers: { ...request.headers, authorization: twice ? [authorization, "Pin YWJjZGVm"] : authorization },
  }));

/**
 * Routes and the methods they answer, from the daemon's own tables (a path parameter filled with a
 * sample): a new operation is fuzzed as it is added. HEAD is GET without a body: never sent here.
 */
const OPERATIONS = describeOperations(...Object.values(DAEMON_API));
const ROUTES: Record<string, string[]> = {};
for (const { method, path } of OPERATIONS) {
  const sample = path.replace(/:[^/]+/g, "0badc0de");
  ROUTES[sample] = [...(ROUTES[sample] ?? []), method];
}
/** Any path a route answers, whatever fills its parameters. */
const ROUTE_PATTERNS = OPERATIONS.map(({ path }) => new RegExp(`^${path.replace(/:[^/]+/g, "[^/]+")}$`));
const METHODS = [
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "PROPFIND",
  "MKCOL",
  "COPY",
  "MOVE",
  "PURGE",
];

function isRoute(path: string): boolean {
  return ROUTE_PATTERNS.some((pattern) => pattern.test(path));
}

const wrongMethod: fc.Arbitrary<Fuzzed> = fc
  .tuple(fc.constantFrom(...Object.keys(ROUTES)), fc.constantFrom(...METHODS), VALID)
  .filter(([path, method]) => !(ROUTES[path] ?? []).includes(method))
  .map(([path, method, valid]) => ({
    fault: `${method} ${path}`,
    method,
    path,
    // Sometimes with a body the right method would take.
    headers: valid.headers,
    ...(valid.body ? { body: valid.body } : {}),
  }));

const unknownPath: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        "/",
        "/v1",
        "/v1/",
        "/v2/status",
        "/V1/status",
        "/v1/Status",
        "/v1/status/",
        "/v1//status",
        "//v1/status",
        "/v1/status;x",
        "/v1/status%2F",
        "/v1/schedule/",
        "/v1/schedule/a/b",
        "/v1/requests/reset",
        "/v1/pin/lock",
        "/events/",
        "/v1/events",
      ),
      fc
        .array(fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/), { minLength: 1, maxLength: 4 })
        .map((segments) => `/${segments.join("/")}`),
      fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/).map((segment) => `/v1/${segment}`),
    ),
    fc.constantFrom(...METHODS),
    VALID,
  )
  .filter(([path]) => !isRoute(path))
  .map(([path, method, valid]) => ({
    fault: `unknown path ${method} ${path}`,
    method,
    path,
    headers: valid.headers,
    ...(valid.body ? { body: valid.body } : {}),
  }));

/** Cancelling what was never scheduled: a 409 (and an audit record). */
const unknownSchedule: fc.Arbitrary<Fuzzed> = fc
  .oneof(
    fc.stringMatching(/^[0-9a-f]{8}$/),
    fc.stringMatching(/^[A-Za-z0-9_~-]{1,300}$/),
    fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  )
  .map((id) => ({
    fault: `cancel unknown id '${id.slice(0, 20)}'`,
    method: "DELETE",
    path: `/v1/schedule/${id}`,
    headers: {},
  }));

/** Any malformed request, with its group, sometimes with a query string that nothing reads. */
const MALFORMED: fc.Arbitrary<Fuzzed & { readonly group: string }> = fc
  .tuple(
    fc.oneof(
      ...(
        [
          ["bad JSON body", fc.oneof(...JSON_ROUTES.map(brokenJson)), 10],
          ["bad query", badQuery, 2],
          ["bad Authorization", withBadAuthorization, 2],
          ["wrong method", wrongMethod, 2],
          ["unknown path", unknownPath, 2],
          ["unknown schedule id", unknownSchedule, 1],
        ] as const
      ).map(([group, arbitrary, weight]) => ({
        arbitrary: arbitrary.map((request) => ({ ...request, group })),
        weight,
      })),
    ),
    fc.option(queryText, { freq: 5, nil: undefined }),
  )
  .map(([request, junk]) =>
    junk === undefined
      ? request
      : { ...request, path: `${request.path}${request.path.includes("?") ? "&" : "?"}x=${junk}` },
  );

// ---------------------------------------------------------------------------------------------
// Sending and checking

function send(socket: string, agent: Agent, request: Fuzzed): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers };
    if (request.body && !request.chunked) headers["content-length"] = String(request.body.length);
    const outgoing = httpRequest(
      { socketPath: socket, agent, method: request.method, path: request.path, headers },
      (response) => {
        const status = response.statusCode ?? 0;
        if (String(response.headers["content-type"]).startsWith("text/event-stream")) {
          // An endless stream (/events): what matters is already known.
          response.destroy();
          resolve({ status, headers: response.headers, body: "" });
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error("no answer within 30 s")));
    outgoing.on("error", (error) =>
      reject(
        new Error(`${request.fault} (${request.method} ${request.path.slice(0, 80)}): ${error.message}`),
      ),
    );
    const body = request.body;
    if (body && request.chunked) {
      for (let at = 0; at < body.length; at += 16 * 1024) outgoing.write(body.subarray(at, at + 16 * 1024));
      outgoing.end();
    } else outgoing.end(body);
  });
}

const UNCLEAR =
  /\bundefined\b|\[object \w+\]|\bNaN\b|\bnull\b|internal error|\w*Error:|\bat \S+ \(|node:internal|\.[jt]s:\d+/;
// 429: a source whose owner operations keep being refused is rate-limited (docs/spec.md §2.8).
const HTTP_FOR_EXIT: Record<number, readonly number[]> = { 2: [400, 404], 3: [409], 4: [403, 429] };

/**
 * What a message may quote from `request`: its path, query values, and the top-level keys and
 * values of its JSON body, as messages show them (control characters escaped, maybe cut short),
 * longest first.
 */
function echoes(request: Fuzzed): string[] {
  const [path = "", query = ""] = request.path.split("?");
  const texts = [path, ...query.split("&").flatMap((pair) => pair.split("="))];
  try {
    texts.push(decodeURIComponent(path));
  } catch {}
  try {
    const body: unknown = JSON.parse(request.body?.toString("utf8") ?? "");
    if (body && typeof body === "object" && !Array.isArray(body)) {
      for (const [key, value] of Object.entries(body)) {
        texts.push(key);
        if (value === null || ["string", "number", "boolean"].includes(typeof value))
          texts.push(String(value));
      }
    }
  } catch {}
  const shown = texts
    .map((text) =>
      text.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`),
    )
    .flatMap((text) => [text, text.slice(0, 64), text.slice(0, 128)])
    .filter((text) => text.length > 0);
  return [...new Set(shown)].sort((a, b) => b.length - a.length);
}

/** The contract for a refused request; throws naming the request when it is not kept. */
function checkRefusal(request: Fuzzed, reply: Reply): void {
  const what = `${request.fault} (${request.method} ${request.path.slice(0, 80)}) -> HTTP ${reply.status}`;
  assert.ok(reply.status >= 400 && reply.status < 500, `not a 4xx: ${what}`);
  assert.match(String(reply.headers["content-type"]), /^application\/json/, `not JSON: ${what}`);
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    assert.fail(`the body is not JSON: ${what}: ${reply.body.slice(0, 200)}`);
  }
  const error = (body as { error?: Record<string, unknown> }).error;
  assert.ok(error && typeof error === "object", `no error object: ${what}: ${reply.body.slice(0, 200)}`);
  assert.deepEqual(Object.keys(body as object), ["error"], `extra fields: ${what}`);
  assert.deepEqual(Object.keys(error).sort(), ["code", "exit", "message"], `error fields: ${what}`);
  assert.match(String(error.code), /^[a-z][a-z0-9-]*$/, `error code: ${what}`);
  assert.ok(
    HTTP_FOR_EXIT[error.exit as number]?.includes(reply.status),
    `exit ${String(error.exit)} does not go with HTTP ${reply.status}: ${what}`,
  );
  const text = error.message;
  assert.ok(typeof text === "string" && text.length > 0 && text.length <= 2500, `message size: ${what}`);
  assert.doesNotMatch(
    text,
    /[\p{Cc}\p{Zl}\p{Zp}]/u,
    `the message is not one line: ${what}: ${text.slice(0, 200)}`,
  );
  // Words no clear message has, once what it quotes from the request is taken out.
  let own = text;
  for (const echo of echoes(request)) own = own.replaceAll(echo, "<input>");
  const unclear = UNCLEAR.exec(own);
  assert.ok(!unclear, `unclear message ('${unclear?.[0]}'): ${what}: ${text.slice(0, 200)}`);
  assert.match(text, /^[a-z'(]/i, `message start: ${what}: ${text.slice(0, 200)}`);
}

async function getJson(socket: string, agent: Agent, path: string): Promise<Record<string, unknown>> {
  const reply = await send(socket, agent, { fault: "none", method: "GET", path, headers: {} });
  assert.equal(reply.status, 200, `GET ${path}`);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------

describe("malformed API requests (fast-check)", () => {
  it("the fuzzer's requests, unbroken, are carried out: the checker is not satisfied by anything", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());

    const reset = {
      fault: "none",
      method: "POST",
      path: "/v1/requests",
      headers: JSON_HEADERS,
      body: Buffer.from('{"type":"reset"}'),
    };
    const replied = await send(daemon.socket, agent, reset);
    assert.equal(replied.status, 200, "a valid reset is not refused");
    assert.throws(() => checkRefusal(reset, replied), /not a 4xx/);
    // And refusals that break the contract in other ways are caught too.
    const refusal = (status: number, error: unknown): Reply => ({
      status,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ error }),
    });
    const bad = { ...reset, body: Buffer.from('{"type":"reboot"}') };
    const contract: [Reply, RegExp][] = [
      [refusal(500, { code: "internal", message: "internal error: boom", exit: 1 }), /not a 4xx/],
      [refusal(409, { code: "usage", message: "x", exit: 2 }), /does not go with HTTP 409/],
      [refusal(400, { code: "usage", message: "bad\nline", exit: 2 }), /not one line/],
      [refusal(400, { code: "usage", message: "'type' is undefined", exit: 2 }), /unclear message/],
      [refusal(400, { code: "usage", message: "oops at f (/x/y.js:1:2)", exit: 2 }), /unclear message/],
      [refusal(400, { code: "usage", exit: 2 }), /error fields/],
      [{ status: 400, headers: { "content-type": "text/plain" }, body: "Bad Request" }, /not JSON/],
    ];
    for (const [reply, failure] of contract) assert.throws(() => checkRefusal(bad, reply), failure);
    checkRefusal(
      bad,
      refusal(400, { code: "usage", message: "'type' must be one of init, reset, erase", exit: 2 }),
    );
    assert.equal((await getJson(daemon.socket, agent, "/v1/status")).generation, 2);

    // One of every valid form the faults start from, in an order that keeps the element set and
    // open (the erase and the PIN last).
    const forms = fc.sample(VALID, { numRuns: 400, seed: 4 });
    const order = (r: Fuzzed) =>
      r.path === "/v1/pin" ? 3 : r.body?.toString().includes('"erase"') && r.path === "/v1/requests" ? 2 : 1;
    const seen = new Map<string, Fuzzed>();
    for (const form of forms) {
      const key = `${form.method} ${form.path.split("?")[0]} ${order(form)}`;
      if (!seen.has(key)) seen.set(key, form);
    }
    const picked = [...seen.values()].sort((a, b) => order(a) - order(b));
    assert.ok(picked.length >= 13, `only ${picked.length} forms drawn`);
    for (const form of picked) {
      const reply = await send(daemon.socket, agent, form);
      assert.ok(
        reply.status >= 200 && reply.status < 300,
        `${form.method} ${form.path} ${form.body?.toString().slice(0, 80) ?? ""} -> ${reply.status} ${reply.body}`,
      );
    }
  });

  it(`${TOTAL.toLocaleString("en")} malformed requests: each a 4xx with a one-line JSON error; the daemon and the identifier unchanged`, {
    timeout: 15 * 60_000,
  }, async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon: ServedDaemon = await serve(t, store);
    const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
    t.after(() => agent.destroy());
    const before = await getJson(daemon.socket, agent, "/v1/status");
    const identifier = storedIdentifier(store);
    assert.ok(identifier);

    const seed = Number(process.env.REID_FUZZ_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`fast-check seed ${seed} (REID_FUZZ_SEED=${seed} replays it)`);
    const groups = new Map<string, number>();
    const statuses = new Map<number, number>();
    let sent = 0;
    const started = performance.now();
    const run = await fc.check(
      fc.asyncProperty(fc.array(MALFORMED, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const replies = await Promise.all(batch.map((request) => send(daemon.socket, agent, request)));
        for (const [i, reply] of replies.entries()) {
          const request = batch[i] as Fuzzed & { group: string };
          checkRefusal(request, reply);
          groups.set(request.group, (groups.get(request.group) ?? 0) + 1);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        }
        sent += batch.length;
        assert.equal(daemon.child.exitCode, null, "the daemon exited");
        const now = await getJson(daemon.socket, agent, "/v1/status");
        assert.deepEqual(now, before, "the element's status changed");
      }),
      { numRuns: TOTAL / BATCH, seed, endOnFailure: true },
    );
    // The failing batch itself is not printed: it can hold megabytes of body.
    if (run.failed) {
      const error = run.errorInstance;
      assert.fail(
        `after ${sent} requests (seed ${run.seed}, path ${run.counterexamplePath}): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `${sent} malformed requests (+${sent / BATCH} status checks) in ${seconds.toFixed(1)} s: ${Math.round(sent / seconds)} requests/s`,
    );
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    t.diagnostic(`groups: ${JSON.stringify(Object.fromEntries(groups))}`);
    assert.equal(sent, TOTAL);

    // The daemon is still up and ends cleanly, having written nothing on stderr.
    assert.equal(daemon.child.exitCode, null, "the daemon exited");
    const stopped = await daemon.stop();
    assert.deepEqual([stopped.code, stopped.stderr.toString()], [0, ""]);
    assertSameSecret(storedIdentifier(store), identifier);
    const verified = await reid(["--store", store, "log", "--verify"]);
    assert.equal(verified.code, 0, `the audit log does not verify: ${verified.stderr}`);
  });
});
