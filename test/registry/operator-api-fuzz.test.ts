// Malformed requests to a real `reid registry serve` (fast-check): arbitrary methods, paths (the
// operator's routes with wrong parts, EST's, made-up ones), queries, credentials (none, garbage, an
// enrollment token, the operator's), content types and bodies (JSON of any shape, text, oversized),
// several at a time. Every answer must come (no hang), with a status below 500 and, when it refuses,
// one short line (JSON under /v1/, text elsewhere); the server must keep serving, write nothing on
// stderr and end cleanly; and the database must be as it was. With the operator's token a request
// could do what the operator may, so those that would write are broken on purpose (see `disarmed`).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { newToken, type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import {
  databaseRows,
  makeRegistry,
  openStore,
  registryAuthority,
  removeRegistry,
  time,
} from "./fleet-fixture.js";
import { type RawAnswer, type RawRequest, registryAgent, send } from "./https-request.js";

const TOTAL = Number(process.env.REID_FUZZ_TOTAL ?? 320);
const BATCH = 16;

type Credential = "none" | "garbage" | "enrollment" | "operator";
interface Fuzzed extends RawRequest {
  readonly credential: Credential;
}

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
/** Characters node sends in a path as they are. */
const pathText = fc.string({ unit: fc.constantFrom(..."abcdefXYZ0189-._~/%:@!$&'()*+,;="), maxLength: 40 });
const queryValue = fc.oneof(
  fc.constant(""),
  hex(32),
  fc.nat().map(String),
  fc.integer().map(String),
  pathText,
);
const query = fc
  .array(fc.tuple(fc.constantFrom("status", "after", "limit", "since", "x"), queryValue), { maxLength: 3 })
  .map((pairs) =>
    pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`,
  );
const handle = fc.oneof(
  hex(32),
  hex(31),
  pathText.filter((text) => text !== "" && !text.includes("/")),
);

const path = fc.oneof(
  fc
    .tuple(fc.constantFrom("/v1/devices", "/v1/events", "/v1/events/stream", "/v1/tokens"), query)
    .map(([p, q]) => p + q),
  fc.tuple(handle, query).map(([h, q]) => `/v1/devices/${h}${q}`),
  handle.map((h) => `/v1/devices/${h}/revoke`),
  fc.constantFrom(
    "/.well-known/est/cacerts",
    "/.well-known/est/csrattrs",
    "/.well-known/est/simpleenroll",
    "/.well-known/est/simplereenroll",
    "/crl",
    "/v1",
    "/v1/",
    "/",
  ),
  pathText.map((text) => `/${text}`),
);

const method = fc.oneof(
  fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
  fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"), minLength: 1, maxLength: 10 }),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? "null"),
  fc
    .record({
      reason: fc.oneof(fc.constantFrom("keyCompromise", "unspecified", "superseded"), fc.jsonValue()),
    })
    .map((v) => JSON.stringify(v)),
  fc
    .record({ ttl: fc.jsonValue(), label: fc.jsonValue() }, { requiredKeys: [] })
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 100 }),
  fc.integer({ min: 4000, max: 20_000 }).map((n) => `{"label":"${"a".repeat(n)}"}`),
  fc.integer({ min: 50, max: 3000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
);

const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/pkcs10",
    "APPLICATION/JSON",
  ),
  fc.string({ unit: fc.constantFrom(..."abcdefghij/;= -+"), maxLength: 30 }),
);

/** Requests made by the generator; `tokens` are filled in once the registry is made. */
function requests(tokens: { operator: string; enrollment: string }) {
  return fc
    .record({
      method,
      path,
      credential: fc.constantFrom<Credential>("none", "garbage", "enrollment", "operator"),
      garbage: fc.string({ unit: fc.constantFrom(..."Bearer Basic abcXYZ019+/=-_:"), maxLength: 60 }),
      contentType,
      body,
    })
    .map(({ credential, garbage, contentType: type, ...rest }): Fuzzed => {
      const authorization = {
        none: undefined,
        garbage,
        enrollment: `Bearer ${tokens.enrollment}`,
        operator: `Bearer ${tokens.operator}`,
      }[credential];
      const headers: Record<string, string> = {};
      if (authorization) headers.authorization = authorization;
      if (type !== undefined) headers["content-type"] = type;
      const sent = {
        method: rest.method,
        path: rest.path,
        headers,
        ...(rest.body === undefined ? {} : { body: Buffer.from(rest.body) }),
        credential,
      };
      return disarmed(sent);
    });
}

/**
 * With the operator's token a request may do what the operator does: a token made, a device
 * revoked, a stream that runs until the client leaves. Those are broken in one way here (a field
 * no route takes; HEAD for the stream), so that a 2xx could only be a read.
 */
function disarmed(request: Fuzzed): Fuzzed {
  if (request.credential !== "operator") return request;
  const [route] = request.path.split("?");
  if (route === "/v1/events/stream" && request.method === "GET") return { ...request, method: "HEAD" };
  if (request.method === "POST" && (route === "/v1/tokens" || route?.endsWith("/revoke"))) {
    let value: unknown;
    try {
      value = JSON.parse(request.body?.toString() ?? "");
    } catch {
      return request;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return { ...request, body: Buffer.from(JSON.stringify({ ...value, unexpected: 1 })) };
    }
  }
  return request;
}

/** What every answer must be: no server failure; a refusal one short line, JSON under /v1/. */
function checkAnswer(request: Fuzzed, answer: RawAnswer): void {
  const what = `${request.method} ${request.path} (${request.credential})`;
  assert.ok(
    answer.status >= 200 && answer.status < 500,
    `${what}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`,
  );
  if (request.method === "HEAD") {
    assert.equal(answer.body, "", `${what}: a body to HEAD`);
    return;
  }
  if (answer.status < 400) return;
  const text = answer.body;
  assert.ok(text.length > 0 && text.length < 1000, `${what}: an error of ${text.length} characters`);
  assert.ok(!text.trimEnd().includes("\n"), `${what}: not one line: ${JSON.stringify(text.slice(0, 200))}`);
  const type = String(answer.headers["content-type"] ?? "");
  if (/^application\/json/.test(type)) {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    assert.ok(typeof error?.code === "string" && typeof error.message === "string", `${what}: ${text}`);
  } else {
    assert.match(type, /^text\/plain/, `${what}: an error as '${type}'`);
    assert.ok(
      !request.path.startsWith("/v1/devices") && !request.path.startsWith("/v1/tokens"),
      `${what}: text from /v1/`,
    );
  }
  if (answer.status === 401)
    assert.ok(answer.headers["www-authenticate"], `${what}: a 401 without a challenge`);
}

describe("malformed requests to the registry's HTTPS surface (fast-check)", () => {
  let dir = "";
  let server: ServedRegistry;
  const tokens = { operator: "", enrollment: "" };

  before(async () => {
    dir = await makeRegistry();
    const authority = await registryAuthority(dir);
    const store = await openStore(dir);
    try {
      for (let i = 0; i < 3; i++) await store.enroll({ ...(await authority.issue(time(i))), at: time(i) });
    } finally {
      await store.close();
    }
    tokens.operator = readFileSync(join(dir, "operator.token"), "utf8").trim();
    tokens.enrollment = await newToken(dir);
    server = await serveRegistry(dir);
  });
  after(async () => {
    try {
      // Stopped by the test already, unless it failed first.
      if (server) await server.stop();
    } catch {
      // ESRCH: it had ended.
    }
    removeRegistry(dir);
  });

  test("the checker refuses a 500, a two-line error, an error of another type and a 401 without its challenge", () => {
    const get: Fuzzed = { method: "GET", path: "/v1/devices", credential: "none" };
    const json = { "content-type": "application/json" };
    const error = JSON.stringify({ error: { code: "x", message: "y" } });
    assert.throws(() => checkAnswer(get, { status: 500, headers: json, body: error }), /HTTP 500/);
    assert.throws(
      () => checkAnswer(get, { status: 400, headers: json, body: `${error}\n{}` }),
      /not one line/,
    );
    assert.throws(
      () => checkAnswer(get, { status: 400, headers: { "content-type": "text/html" }, body: "x" }),
      /as 'text\/html'/,
    );
    assert.throws(() => checkAnswer(get, { status: 401, headers: json, body: error }), /without a challenge/);
    checkAnswer(get, { status: 401, headers: { ...json, "www-authenticate": "Bearer" }, body: error });
  });

  test(`${TOTAL} requests: each answered below 500, refusals one line; the server serves on; the database unchanged`, async (t) => {
    const rows = databaseRows(dir);
    const agent = registryAgent(readFileSync(join(dir, "ca.pem"), "utf8"), BATCH);
    const seed = Number(process.env.REID_FUZZ_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`fast-check seed ${seed} (REID_FUZZ_SEED=${seed} replays it)`);
    const statuses = new Map<number, number>();
    try {
      const run = await fc.check(
        fc.asyncProperty(
          fc.array(requests(tokens), { minLength: BATCH, maxLength: BATCH }),
          async (batch) => {
            const answers = await Promise.all(
              batch.map((request) =>
                send(server.port, agent, request).catch((error: Error) => {
                  const shown = `${request.method} ${request.path} ${JSON.stringify(request.headers)} ${request.body?.length ?? "-"} bytes`;
                  throw new Error(`${shown}: ${error.message}`);
                }),
              ),
            );
            for (const [i, answer] of answers.entries()) {
              checkAnswer(batch[i] as Fuzzed, answer);
              statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            }
            const alive = await send(server.port, agent, {
              method: "GET",
              path: "/v1/devices?limit=1",
              headers: { authorization: `Bearer ${tokens.operator}` },
            });
            assert.equal(alive.status, 200, "the server stopped serving");
          },
        ),
        { numRuns: Math.ceil(TOTAL / BATCH), seed, endOnFailure: true },
      );
      if (run.failed) {
        const error = run.errorInstance;
        assert.fail(
          `seed ${run.seed}, path ${run.counterexamplePath}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    } finally {
      agent.destroy();
    }
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok((statuses.get(401) ?? 0) > 0 && [...statuses.keys()].some((s) => s >= 200 && s < 300));
    assert.deepEqual(databaseRows(dir), rows, "a malformed request changed the registry");
    const stopped = await server.stop();
    assert.deepEqual([stopped.code, stopped.stderr.toString()], [0, ""]);
  });
});
