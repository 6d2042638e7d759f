// The operator's API under /v1/ (docs/spec.md §10.10) on a real `reid registry serve`, asked with
// curl and node:https: each route's answer against what the store holds, every refusal a status and
// one line of JSON that changes nothing, an event stream that sees another process's revocation,
// lets go when its client does and resumes after the Last-Event-ID a client sends, and a walk of
// every route the server has, unauthenticated, that reaches nothing but what EST and the CRL give
// anyone.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ServerSentEvent, splitEvents } from "../../src/http/event-stream.js";
import { OPERATOR_OPERATIONS } from "../../src/registry/api/operations.js";
import { CrlCache } from "../../src/registry/crl.js";
import { registryRoutes } from "../../src/registry/est/routes.js";
import { loadSigner } from "../../src/registry/issue.js";
import { loadOperatorPageFiles } from "../../src/registry/page/files.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { hashToken } from "../../src/registry/tokens.js";
import { type DeviceView, type EventView, eventView } from "../../src/registry/views.js";
import { reidJson, reidOk } from "../helpers/cli.js";
import { type Answer, curl, newToken, type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import {
  type Authority,
  databaseRows,
  type Identity,
  makeRegistry,
  openStore,
  registryAuthority,
  removeRegistry,
  time,
} from "./fleet-fixture.js";
import { open, registryAgent, send } from "./https-request.js";

const JSON_TYPE = ["-H", "Content-Type: application/json"];

/** A refusal: the status, one line of JSON {"error":{code,message,exit}}, the code; a 401's challenge. */
function assertRefused(answer: Answer, status: number, code: string): void {
  const text = answer.body.toString("utf8");
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${text}`);
  assert.match(answer.headers, /content-type: application\/json/i);
  assert.ok(!text.trimEnd().includes("\n"), `not one line: ${JSON.stringify(text)}`);
  const { error } = JSON.parse(text) as { error: { code: string; message: string; exit: number } };
  assert.equal(error.code, code, text);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0 && error.message.length < 300, error.message);
  if (status === 401) assert.match(answer.headers, /www-authenticate: Bearer realm="reid registry"/i);
  else assert.doesNotMatch(answer.headers, /www-authenticate/i);
}

describe("the operator API (/v1/) on reid registry serve", () => {
  let dir = "";
  let root = "";
  let ca = "";
  let token = "";
  let server: ServedRegistry;
  let store: RegistryStore;
  let authority: Authority;
  /** A device and its successor; three lone devices, one of them revoked. */
  const chain: Identity[] = [];
  const lone: Identity[] = [];

  /** curl to the served registry: the operator's token unless `as` says otherwise. */
  const api = (
    path: string,
    options: { method?: string; as?: string | null; body?: string | Buffer; args?: readonly string[] } = {},
  ) =>
    curl(root, `${server.base}${path}`, {
      ca,
      ...(options.body === undefined ? {} : { body: options.body }),
      args: [
        ...(options.method ? ["-X", options.method] : []),
        ...(options.as === null ? [] : ["-H", `Authorization: Bearer ${options.as ?? token}`]),
        ...(options.args ?? []),
      ],
    });
  /** A JSON body posted with the operator's token. */
  const post = (path: string, body: string) => api(path, { method: "POST", body, args: JSON_TYPE });
  const json = <T>(answer: Answer): T => {
    assert.equal(answer.status, 200, answer.body.toString());
    assert.match(answer.headers, /content-type: application\/json/i);
    return JSON.parse(answer.body.toString()) as T;
  };
  /** The request is refused as expected and the database is as it was. */
  async function refused(request: () => Promise<Answer>, status: number, code: string): Promise<void> {
    const rows = databaseRows(dir);
    assertRefused(await request(), status, code);
    assert.deepEqual(databaseRows(dir), rows, `a refused request (${code}) changed the registry`);
  }
  const views = async (): Promise<DeviceView[]> =>
    (await store.devices()).map(({ publicKey: _, ...view }) => view);

  before(async () => {
    dir = await makeRegistry();
    root = dirname(dir);
    ca = join(dir, "ca.pem");
    token = readFileSync(join(dir, "operator.token"), "utf8").trim();
    authority = await registryAuthority(dir);
    store = await openStore(dir);
    for (let i = 0; i < 2; i++) {
      const identity = await authority.issue(time(i * 100));
      if (i === 0) await store.enroll({ ...identity, at: time(0) });
      else await store.succeed({ ...identity, predecessor: (chain[0] as Identity).handle, at: time(100) });
      chain.push(identity);
    }
    for (let i = 0; i < 3; i++) {
      lone.push(await authority.issue(time(200 + i)));
      await store.enroll({ ...(lone[i] as Identity), at: time(200 + i) });
    }
    await store.revoke({ handle: (lone[2] as Identity).handle, reason: "keyCompromise", at: time(300) });
    server = await serveRegistry(dir);
  });

  after(async () => {
    await store?.close();
    if (server) {
      const stopped = await server.stop();
      assert.deepEqual([stopped.code, stopped.stderr.toString()], [0, ""], "the server did not end cleanly");
    }
    removeRegistry(dir);
  });

  test("devices: keyset pages with the next page's 'after', a status filter; the store's views", async () => {
    const all = await views();
    const [first, revoked, whole] = await Promise.all([
      api("/v1/devices?limit=2"),
      api("/v1/devices?status=revoked"),
      api("/v1/devices"),
    ]);
    const page = json<{ devices: DeviceView[]; after: string | null }>(first);
    assert.deepEqual(page.devices, all.slice(0, 2));
    assert.equal(page.after, all[1]?.handle);
    const pages: DeviceView[] = [...page.devices];
    for (let after: string | null = page.after; after !== null; ) {
      const next: { devices: DeviceView[]; after: string | null } = json(
        await api(`/v1/devices?limit=2&after=${after}`),
      );
      pages.push(...next.devices);
      after = next.after;
    }
    assert.deepEqual(pages, all);
    assert.deepEqual(json(revoked), { devices: all.filter((d) => d.status === "revoked"), after: null });
    assert.deepEqual(json(whole), { devices: all, after: null });
  });

  test("devices/:handle: the report `registry show --json` prints, from any link of the chain", async () => {
    const [asked, cli] = await Promise.all([
      api(`/v1/devices/${chain[0]?.handle}`),
      reidJson(["registry", "show", chain[0]?.handle as string, "--dir", dir]),
    ]);
    const report = json<{ chain: { handle: string; asked: boolean }[] }>(asked);
    assert.deepEqual(report, cli);
    assert.deepEqual(
      report.chain.map((link) => [link.handle, link.asked]),
      [
        [chain[0]?.handle, true],
        [chain[1]?.handle, false],
      ],
    );
  });

  test("tokens: one answered once, stored by its hash with its label and expiry, unspent", async () => {
    const started = Date.now();
    const [labelled, plain] = await Promise.all([
      post("/v1/tokens", '{"ttl":"2h","label":"rack 7"}'),
      post("/v1/tokens", "{}"),
    ]);
    const made = json<{ token: string; label: string | null; expiresAt: string }>(labelled);
    assert.deepEqual(Object.keys(made), ["token", "label", "expiresAt"]);
    assert.match(made.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(made.label, "rack 7");
    const held = await store.token(hashToken(made.token));
    assert.equal(held?.label, "rack 7");
    assert.equal(held?.expiresAt, made.expiresAt);
    const hours = (Date.parse(made.expiresAt) - started) / 3_600_000;
    assert.ok(hours > 1.9 && hours <= 2.01, `expires in ${hours} h`);
    const other = json<{ token: string; label: string | null; expiresAt: string }>(plain);
    assert.equal(other.label, null);
    const day = (Date.parse(other.expiresAt) - started) / 3_600_000;
    assert.ok(day > 23.9 && day <= 24.01, `expires in ${day} h`);
    assert.equal((await store.token(hashToken(other.token)))?.usedAt, null);
  });

  test("events: a page after a sequence, its 'since' the next page's; the store's events", async () => {
    const events = (await store.eventsSince(0)).map(eventView);
    const [all, tail, limited] = await Promise.all([
      api("/v1/events"),
      api(`/v1/events?since=${events[2]?.sequence}`),
      api("/v1/events?since=0&limit=2"),
    ]);
    assert.deepEqual(json(all), { events, since: events.at(-1)?.sequence });
    assert.deepEqual(json(tail), { events: events.slice(3), since: events.at(-1)?.sequence });
    assert.deepEqual(json(limited), { events: events.slice(0, 2), since: events[1]?.sequence });
    assert.deepEqual(json(await api("/v1/events?since=999999")), { events: [], since: 999999 });
  });

  test("refusals: each its status and code, one line of JSON, nothing changed", async () => {
    const enrollment = await newToken(dir);
    const handle = lone[0]?.handle as string;
    const revoke = `/v1/devices/${handle}/revoke`;
    const reason = '{"reason":"keyCompromise"}';
    const cases: [string, () => Promise<Answer>, number, string][] = [
      ["no token", () => api("/v1/devices", { as: null }), 401, "no-credentials"],
      [
        "not bearer",
        () => api("/v1/devices", { as: null, args: ["-u", `x:${token}`] }),
        401,
        "no-credentials",
      ],
      ["wrong token", () => api("/v1/events", { as: `${token.slice(1)}A` }), 401, "operator-refused"],
      ["enrollment token", () => api("/v1/devices", { as: enrollment }), 401, "operator-refused"],
      [
        "revoke, no token",
        () => api(revoke, { method: "POST", as: null, body: reason, args: JSON_TYPE }),
        401,
        "no-credentials",
      ],
      [
        "token, no token",
        () => api("/v1/tokens", { method: "POST", as: null, body: "{}", args: JSON_TYPE }),
        401,
        "no-credentials",
      ],
      ["stream, wrong token", () => api("/v1/events/stream", { as: enrollment }), 401, "operator-refused"],
      ["bad JSON", () => post(revoke, '{"reason":'), 400, "usage"],
      ["not an object", () => post(revoke, '["keyCompromise"]'), 400, "usage"],
      ["form body", () => api(revoke, { method: "POST", body: "reason=keyCompromise" }), 415, "not-json"],
      [
        "text body",
        () => api("/v1/tokens", { method: "POST", body: "{}", args: ["-H", "Content-Type: text/plain"] }),
        415,
        "not-json",
      ],
      ["oversized", () => post("/v1/tokens", `{"label":"${"a".repeat(5000)}"}`), 413, "too-large"],
      ["unknown field", () => post("/v1/tokens", '{"uses":2}'), 400, "usage"],
      ["bad ttl", () => post("/v1/tokens", '{"ttl":"91d"}'), 400, "usage"],
      ["ttl not text", () => post("/v1/tokens", '{"ttl":3600}'), 400, "usage"],
      ["bad label", () => post("/v1/tokens", '{"label":"a\\nb"}'), 400, "usage"],
      ["bad reason", () => post(revoke, '{"reason":"superseded"}'), 400, "usage"],
      ["no reason", () => post(revoke, "{}"), 400, "usage"],
      ["bad handle", () => api("/v1/devices/ABCDEF0123456789ABCDEF0123456789"), 400, "usage"],
      ["bad handle, revoke", () => post("/v1/devices/x/revoke", reason), 400, "usage"],
      ["unknown device", () => api(`/v1/devices/${"0".repeat(32)}`), 404, "unknown-device"],
      ["unknown, revoke", () => post(`/v1/devices/${"0".repeat(32)}/revoke`, reason), 404, "unknown-device"],
      [
        "revoked already",
        () => post(`/v1/devices/${lone[2]?.handle}/revoke`, reason),
        409,
        "device-not-active",
      ],
      ["superseded", () => post(`/v1/devices/${chain[0]?.handle}/revoke`, reason), 409, "device-not-active"],
      ["bad status", () => api("/v1/devices?status=retired"), 400, "usage"],
      ["limit 0", () => api("/v1/devices?limit=0"), 400, "usage"],
      ["limit 1001", () => api("/v1/devices?limit=1001"), 400, "usage"],
      ["limit not digits", () => api("/v1/devices?limit=-1"), 400, "usage"],
      ["bad after", () => api("/v1/devices?after=zz"), 400, "usage"],
      ["bad since", () => api("/v1/events?since=-1"), 400, "usage"],
      ["since too big", () => api("/v1/events?since=9007199254740992"), 400, "usage"],
      ["bad stream since", () => api("/v1/events/stream?since=x"), 400, "usage"],
      [
        "bad Last-Event-ID",
        () => api("/v1/events/stream?since=0", { args: ["-H", "Last-Event-ID: 5x"] }),
        400,
        "usage",
      ],
      [
        "empty Last-Event-ID",
        () => api("/v1/events/stream", { args: ["-H", "Last-Event-ID;"] }),
        400,
        "usage",
      ],
      [
        "Last-Event-ID too big",
        () => api("/v1/events/stream", { args: ["-H", "Last-Event-ID: 9007199254740992"] }),
        400,
        "usage",
      ],
      ["events limit", () => api("/v1/events?limit=5000"), 400, "usage"],
    ];
    await Promise.all(
      cases.map(async ([what, request, status, code]) => {
        const answer = await request();
        try {
          assertRefused(answer, status, code);
        } catch (error) {
          assert.fail(`${what}: ${(error as Error).message}`);
        }
      }),
    );
    // And each of them, one at a time, left the database as it was.
    const rows = databaseRows(dir);
    for (const [, request, status, code] of cases) await refused(request, status, code);
    assert.deepEqual(databaseRows(dir), rows);
  });

  test("revoke: an active device, answered as `registry revoke --json` prints; a second time 409", async () => {
    const handle = lone[1]?.handle as string;
    const answer = await api(`/v1/devices/${handle}/revoke`, {
      method: "POST",
      body: '{"reason":"cessationOfOperation"}',
      args: JSON_TYPE,
    });
    const revoked = json<{
      handle: string;
      serial: string;
      reason: string;
      revokedAt: string;
      sequence: number;
      logIndex: number;
    }>(answer);
    assert.deepEqual(Object.keys(revoked), [
      "handle",
      "serial",
      "reason",
      "revokedAt",
      "sequence",
      "logIndex",
    ]);
    assert.equal(revoked.serial, lone[1]?.certificate.serial);
    const certificate = await store.certificate(revoked.serial);
    assert.deepEqual(
      [certificate?.status, certificate?.revocationReason, certificate?.revokedAt],
      ["revoked", "cessationOfOperation", revoked.revokedAt],
    );
    const [event] = await store.eventsSince(revoked.sequence - 1, 1);
    assert.deepEqual([event?.type, event?.handle, event?.leaf], ["revoked", handle, revoked.logIndex]);
    await refused(
      () =>
        api(`/v1/devices/${handle}/revoke`, {
          method: "POST",
          body: '{"reason":"unspecified"}',
          args: JSON_TYPE,
        }),
      409,
      "device-not-active",
    );
  });

  test("events/stream: the backlog, then another process's revocation as it commits; the client may leave", async () => {
    const agent = registryAgent(readFileSync(ca, "utf8"));
    try {
      const since = await store.lastEventSequence();
      const past = (await store.eventsSince(since - 2)).map((event) => event.sequence);
      const stream = await open(server.port, agent, {
        method: "GET",
        path: `/v1/events/stream?since=${since - 2}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(stream.incoming.statusCode, 200);
      assert.match(String(stream.incoming.headers["content-type"]), /^text\/event-stream/);
      const seen: { event: string | undefined; data: string | undefined }[] = [];
      let buffer = "";
      let wake = () => {};
      stream.incoming.setEncoding("utf8");
      stream.incoming.on("data", (chunk: string) => {
        const { events, rest } = splitEvents(buffer + chunk);
        buffer = rest;
        seen.push(...events);
        wake();
      });
      const until = async (ok: () => boolean) => {
        while (!ok()) await new Promise<void>((resolve) => (wake = resolve));
      };
      await until(() => seen.length >= 1 + past.length);
      assert.equal(seen[0]?.event, "ready");
      assert.deepEqual(
        seen.slice(1).map((e) => JSON.parse(e.data as string).sequence),
        past,
      );
      // Another process writes: the CLI against the directory, beside the running server.
      const target = lone[0]?.handle as string;
      await reidOk(["registry", "revoke", target, "--reason", "privilegeWithdrawn", "--dir", dir]);
      await until(() => seen.length >= 2 + past.length);
      const last = seen.at(-1);
      assert.equal(last?.event, "revoked");
      const event = JSON.parse(last?.data as string);
      assert.deepEqual(
        [event.handle, event.type, event.data.reason],
        [target, "revoked", "privilegeWithdrawn"],
      );
      assert.equal(event.sequence, await store.lastEventSequence());
      // The client goes: the server lets go of the stream and goes on serving.
      const closed = new Promise<void>((resolve) => stream.incoming.once("close", () => resolve()));
      stream.destroy();
      await closed;
      const still = await send(server.port, agent, {
        method: "GET",
        path: "/v1/events?limit=1",
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(still.status, 200);
    } finally {
      agent.destroy();
    }
  });

  test("events/stream: each event's id is its sequence; Last-Event-ID resumes after it, over ?since, as curl sends it", async () => {
    /** curl -N on the stream until `count` events after ready have come: what it printed, as events. */
    const streamed = (query: string, resume: string | null, count: number) =>
      new Promise<ServerSentEvent[]>((resolve, reject) => {
        const child = spawn("curl", [
          "-sS",
          "-N",
          "--cacert",
          ca,
          "-H",
          `Authorization: Bearer ${token}`,
          ...(resume === null ? [] : ["-H", `Last-Event-ID: ${resume}`]),
          `${server.base}/v1/events/stream${query}`,
        ]);
        let text = "";
        const deadline = setTimeout(() => child.kill(), 20_000);
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (chunk: string) => {
          text += chunk;
          const { events } = splitEvents(text);
          if (events.length < 1 + count) return;
          clearTimeout(deadline);
          child.kill();
          // What came after them in the same read is the stream going on: not asked about.
          resolve(events.slice(0, 1 + count));
        });
        child.on("exit", () => reject(new Error(`curl ended with: ${JSON.stringify(text)}`)));
      });
    const all = await store.eventsSince(0);
    assert.ok(all.length >= 6, "the suite's registry has a few events");
    const sequences = (events: ServerSentEvent[]) =>
      events.slice(1).map((e) => JSON.parse(e.data ?? "").sequence);

    const whole = await streamed("", null, all.length);
    assert.deepEqual([whole[0]?.event, whole[0]?.id], ["ready", undefined], "ready is no resume point");
    for (const event of whole.slice(1)) {
      const view = JSON.parse(event.data ?? "") as EventView;
      assert.equal(event.id, String(view.sequence));
      assert.equal(event.event, view.type);
    }
    assert.deepEqual(
      sequences(whole),
      all.map((e) => e.sequence),
    );

    // A browser resuming sends the URL it first asked with the last id it got: the id wins, in
    // both directions, so it is not the larger of the two.
    const [third, fifth] = [all[2]?.sequence as number, all[4]?.sequence as number];
    const resumed = await streamed(`?since=${third}`, String(fifth), 1);
    assert.deepEqual(sequences(resumed), [all[5]?.sequence]);
    const earlier = await streamed(`?since=${fifth}`, String(third), 2);
    assert.deepEqual(sequences(earlier), [all[3]?.sequence, all[4]?.sequence]);
    // Without the header, ?since as before.
    assert.deepEqual(sequences(await streamed(`?since=${third}`, null, 1)), [all[3]?.sequence]);
  });

  test("unauthenticated, every route the server has reaches only cacerts, csrattrs, the CRL and the page's sign-in", async () => {
    // The routes as the server's own app lists them: a route added later is walked too.
    const signer = await loadSigner(dir);
    const app = registryRoutes({
      store,
      signer,
      crl: new CrlCache(signer, store),
      crlUrl: "https://localhost/crl",
    });
    const routes = [...new Set(app.routes.map((route) => `${route.method} ${route.path}`))]
      .map((route) => route.split(" ") as [string, string])
      .filter(([, path]) => path !== "/*" && !path.includes("*"));
    const paths = new Set(routes.map(([, path]) => path));
    for (const operation of Object.values(OPERATOR_OPERATIONS.operations)) {
      assert.ok(paths.has(operation.path), `${operation.path} is not served`);
    }
    const handle = chain[1]?.handle as string;
    const open200 = new Set(["GET /.well-known/est/cacerts", "GET /.well-known/est/csrattrs", "GET /crl"]);
    // The operator's page (§10.11) gives anyone its files and a session not signed in, which hold
    // nothing of the registry, and the redirect to its address with the slash.
    const pageOpen = new Set([
      ...[...loadOperatorPageFiles().keys()].map((path) => `GET ${path}`),
      "GET /operator",
      "GET /operator/favicon.ico",
      "GET /operator/api/session",
    ]);
    const methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    const asked = [...paths].flatMap((path) =>
      methods.map((method) => [method, path.replace(":handle", handle)] as const),
    );
    const answers = await Promise.all(
      asked.map(async ([method, path]) => {
        const answer = await curl(root, `${server.base}${path}`, {
          ca,
          args: [
            "-X",
            method,
            ...(method === "GET" ? [] : ["-H", "Content-Type: application/json", "--data-binary", "{}"]),
          ],
        });
        return { method, path, answer };
      }),
    );
    for (const { method, path, answer } of answers) {
      const route = `${method} ${path}`;
      if (open200.has(route)) {
        assert.ok(answer.status === 200 || answer.status === 204, `${route}: ${answer.status}`);
        continue;
      }
      if (pageOpen.has(route)) {
        assert.ok([200, 204, 308].includes(answer.status), `${route}: ${answer.status}`);
        const text = answer.body.toString();
        assert.ok(!text.includes(handle), `${route} gave a device away`);
        if (path === "/operator/api/session") {
          assert.deepEqual([JSON.parse(text).signedIn, JSON.parse(text).lastEventSequence], [false, null]);
        }
        continue;
      }
      assert.ok(
        answer.status >= 400 && answer.status < 500,
        `${route} answered ${answer.status} unauthenticated: ${answer.body.toString().slice(0, 200)}`,
      );
      if (path.startsWith("/v1/devices") || path.startsWith("/v1/tokens") || path.startsWith("/v1/events")) {
        assertRefused(answer, 401, "no-credentials");
      }
      // The page's operations: a read without a session is 401, a write from no Origin 403.
      if (path.startsWith("/operator/api/v1/") && (method === "GET" || method === "POST")) {
        assert.equal(answer.status, method === "GET" ? 401 : 403, `${route}: ${answer.body.toString()}`);
      }
    }
    // Each open one answered something, and the device's record stayed its own.
    assert.ok(answers.some((a) => a.path === "/crl" && a.answer.status === 200));
    assert.equal((await store.device(handle))?.status, "active");
  });
});
