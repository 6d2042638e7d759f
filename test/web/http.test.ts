// The owner's page over plain HTTP, no browser: who may call what. Each refusal is checked against
// the element itself (reid status/log through the daemon): nothing changed, nothing was counted.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { assertOneLineError, reid, reidOk } from "../helpers/cli.js";
import {
  assertRefused,
  auditLog,
  freePort,
  PageClient,
  PIN,
  type ServedPage,
  servedPage,
  serveWeb,
  snapshot as snapshotOf,
  status,
  type WebDaemon,
} from "./helpers.js";

const FUTURE = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();

describe("the owner's page over HTTP", () => {
  let served: ServedPage;
  let store: string;
  let daemon: WebDaemon;

  before(async () => {
    served = await servedPage("reid-web-http-");
    ({ store, daemon } = served);
  });

  after(() => served?.close());

  const snapshot = () => snapshotOf(store);

  test("the page is served with a strict CSP and a session cookie that scripts cannot read", async () => {
    const client = new PageClient(daemon);
    const opened = await client.openLink();
    const cookie = String(opened.headers["set-cookie"]);
    assert.match(cookie, /^reid_session=[A-Za-z0-9_-]{43};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    const page = await client.get("/");
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/app\.js"><\/script>/);
    assert.doesNotMatch(page.text, /<script>(?!<)/, "no inline script");
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    // The module app.js imports, shared with the operator's page.
    const shared = await client.get("/json-call.js");
    assert.equal(shared.status, 200);
    assert.match(shared.text, /export async function callJson/);
    const vendor = await client.get("/vendor/simplewebauthn-browser.js");
    assert.equal(vendor.status, 200);
    assert.match(vendor.text, /simplewebauthn\/browser/);
    const session = await client.get("/api/session");
    assert.equal(session.json.signedIn, false);
    assert.equal(session.json.owner.pin, true);
  });

  test("signing in gives a new session id and token; the old id stays signed out; signing out ends it", async () => {
    const client = new PageClient(daemon);
    await client.open();
    const before = { cookie: client.cookie, csrf: client.csrf };
    await client.signInWithPin();
    assert.notEqual(client.cookie, before.cookie);
    assert.notEqual(client.csrf, before.csrf);
    assert.equal((await client.get("/api/status")).status, 200);
    const signedIn = client.cookie;
    const old = new PageClient(daemon);
    old.cookie = before.cookie;
    // The id sign-in replaced is no session at all: only a new link opens the page again.
    assertRefused(await old.get("/api/status"), 401, "no-link");
    assert.equal((await client.post("/api/sign-out", {})).status, 200);
    const stale = new PageClient(daemon);
    stale.cookie = signedIn;
    assertRefused(await stale.get("/api/status"), 401, "no-link");
    assertRefused(await stale.get("/api/events"), 401, "no-link");
    // The fresh session of the sign-out is still the link holder's, signed out: it reads the public
    // status (state, generation, handle, mode) and nothing more.
    assertRefused(await client.get("/api/log"), 401, "not-signed-in");
    const open = await client.get("/api/status");
    assert.deepEqual(Object.keys(open.json).sort(), ["generation", "handle", "mode", "state"]);
  });

  test("the status sent to the page names no identifier and no store path", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const reply = await client.get("/api/status");
    assert.equal(reply.status, 200);
    const s = await status(store);
    assert.equal(reply.json.generation, s.generation);
    assert.equal(reply.json.handle, s.handle);
    assert.deepEqual(Object.keys(reply.json).sort(), [
      "format",
      "generation",
      "handle",
      "mode",
      "owner",
      "requests",
      "scheduled",
      "sealed",
      "source",
      "state",
    ]);
    assert.doesNotMatch(reply.text, /identifier/);
  });

  test("a state-changing call without the CSRF token, or with a wrong one, is refused (403) and changes nothing", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const body = { type: "reset", proof: { pin: PIN } };
    assertRefused(await client.post("/api/requests", body, { "x-csrf-token": null }), 403, "csrf");
    assertRefused(await client.post("/api/requests", body, { "x-csrf-token": "A".repeat(43) }), 403, "csrf");
    assertRefused(
      await client.post(
        "/api/schedule",
        { type: "erase", at: FUTURE, proof: { pin: PIN } },
        { "x-csrf-token": null },
      ),
      403,
      "csrf",
    );
    // Even signing in needs the token (no login CSRF).
    const fresh = new PageClient(daemon);
    await fresh.open();
    assertRefused(await fresh.post("/api/sign-in/pin", { pin: PIN }, { "x-csrf-token": null }), 403, "csrf");
    // Another session's token is no good either.
    const other = new PageClient(daemon);
    await other.signInWithPin();
    assertRefused(await client.post("/api/requests", body, { "x-csrf-token": other.csrf }), 403, "csrf");
    // The PIN in those bodies was never even checked: nothing counted, nothing happened.
    const now = await snapshot();
    assert.deepEqual({ ...now, audit: now.audit - 1 }, was, "only the other session's sign-in was audited");
  });

  test("a state-changing call from a foreign Origin, or with none, is refused (403) and changes nothing", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const body = { type: "reset", proof: { pin: PIN } };
    for (const origin of [
      "http://evil.example",
      `http://evil.example:${daemon.port}`,
      `http://127.0.0.1:${daemon.port}`,
      `http://localhost:${daemon.port + 1}`,
      `https://localhost:${daemon.port}`,
      "null",
    ]) {
      assertRefused(await client.post("/api/requests", body, { origin }), 403, "bad-origin");
    }
    assertRefused(await client.post("/api/requests", body, { origin: null }), 403, "bad-origin");
    // A cross-site fetch, as the browser labels it, is refused whatever it carries.
    assertRefused(
      await client.post("/api/requests", body, { "sec-fetch-site": "same-site" }),
      403,
      "cross-site",
    );
    assert.deepEqual(await snapshot(), was);
  });

  test("the page answers only as localhost:PORT (a DNS-rebound name is refused)", async () => {
    const client = new PageClient(daemon);
    const reply = await client.send("GET", "/api/session", undefined, {
      host: `evil.example:${daemon.port}`,
    });
    assertRefused(reply, 421, "wrong-host");
    const redirect = await client.send("GET", "/", undefined, { host: `127.0.0.1:${daemon.port}` });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `http://localhost:${daemon.port}/`);
  });

  test("a signed-in session with a valid CSRF token still cannot act without a fresh proof", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    assertRefused(await client.post("/api/requests", { type: "reset" }), 403, "proof-required");
    // An erase confirmed as it must be (the handle's short form) still needs its proof.
    assertRefused(
      await client.post("/api/requests", { type: "erase", confirm: was.handle?.slice(0, 8), proof: {} }),
      403,
      "proof-required",
    );
    assertRefused(await client.post("/api/schedule", { type: "reset", at: FUTURE }), 403, "proof-required");
    // A passkey answer with no challenge issued for it proves nothing.
    const forged = {
      id: "AAAA",
      rawId: "AAAA",
      type: "public-key",
      response: {},
      clientExtensionResults: {},
    };
    assertRefused(
      await client.post("/api/requests", { type: "reset", proof: { passkey: forged } }),
      403,
      "challenge-expired",
    );
    const now = await snapshot();
    assert.equal(now.generation, was.generation);
    assert.equal(now.handle, was.handle);
    assert.equal(now.scheduled, was.scheduled);
    assert.equal(now.failures, was.failures);
    const refusals = (await auditLog(store)).slice(was.audit);
    assert.deepEqual(
      refusals.map((r) => [r.request, r.principal, r.outcome]),
      [
        ["reset", "web:pin", "proof-required"],
        ["erase", "web:pin", "proof-required"],
        ["schedule-reset", "web:pin", "proof-required"],
        ["reset", "web:passkey", "challenge-expired"],
      ],
    );
    // Not signed in, even a right PIN as proof is refused: sign-in and proof are both needed.
    const stranger = new PageClient(daemon);
    await stranger.open();
    assertRefused(
      await stranger.post("/api/requests", { type: "reset", proof: { pin: PIN } }),
      401,
      "not-signed-in",
    );
    assert.equal((await status(store)).generation, was.generation);
  });

  test("with the PIN typed again, the page resets, schedules and cancels; each proof is checked by the element", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const reset = await client.post("/api/requests", { type: "reset", proof: { pin: PIN } });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.generation, was.generation + 1);
    assert.deepEqual(Object.keys(reset.json).sort(), [
      "generation",
      "handle",
      "mode",
      "request",
      "requested",
      "state",
      "time",
    ]);
    const now = await status(store);
    assert.equal(now.generation, was.generation + 1);
    assert.notEqual(now.handle, was.handle);

    const scheduled = await client.post("/api/schedule", { type: "erase", at: FUTURE, proof: { pin: PIN } });
    assert.equal(scheduled.status, 200, scheduled.text);
    assert.deepEqual(
      (await status(store)).scheduled.map((s) => s.id),
      [scheduled.json.id],
    );
    const id = scheduled.json.id as string;
    assertRefused(await client.post(`/api/schedule/${id}/cancel`, {}), 403, "proof-required");
    assert.equal((await status(store)).scheduled.length, 1);
    const cancelled = await client.post(`/api/schedule/${id}/cancel`, { proof: { pin: PIN } });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((await status(store)).scheduled.length, 0);

    const records = (await auditLog(store)).slice(was.audit);
    assert.deepEqual(
      records.map((r) => [r.request, r.principal, r.outcome]),
      [
        ["reset", "web:pin", "ok"],
        ["schedule-erase", "web:pin", "ok"],
        ["cancel-schedule", "web:pin", "proof-required"],
        ["cancel-schedule", "web:pin", "ok"],
      ],
    );
  });

  test("bad input gets a clear JSON error, never a stack trace", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    assertRefused(await client.post("/api/requests", { type: "explode", proof: { pin: PIN } }), 400, "usage");
    assertRefused(await client.post("/api/requests", { type: "reset", extra: 1 }), 400, "usage");
    assertRefused(
      await client.post("/api/schedule", { type: "reset", at: "tomorrow", proof: { pin: PIN } }),
      400,
      "usage",
    );
    assertRefused(
      await client.post("/api/requests", { type: "reset", format: "digits:3", proof: { pin: PIN } }),
      400,
      "usage",
    );
    const notJson = await client.send("POST", "/api/requests", "{nope", {
      origin: client.origin,
      "x-csrf-token": client.csrf,
      "content-type": "application/json",
    });
    assertRefused(notJson, 400, "usage");
    // What an HTML form could send is refused before it is read.
    const form = await client.send("POST", "/api/requests", `type=reset&proof=${encodeURIComponent(PIN)}`, {
      origin: client.origin,
      "x-csrf-token": client.csrf,
      "content-type": "application/x-www-form-urlencoded",
    });
    assertRefused(form, 400, "not-json");
    assertRefused(await client.get("/no/such/page"), 404, "not-found");
    assertRefused(await client.post("/api/proof/options", { intent: "launch" }), 400, "usage");
    assert.deepEqual(await snapshot(), was);
  });

  // Last on this daemon: the wrong PIN it counts starts a back-off for the next PIN.
  test("registering a passkey needs a signed-in session and the right PIN again, checked and counted first", async () => {
    const stranger = new PageClient(daemon);
    await stranger.open();
    assertRefused(await stranger.post("/api/passkeys/options", {}), 401, "not-signed-in");
    assertRefused(await stranger.post("/api/sign-in/passkey/options", {}), 400, "no-passkey");
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const options = await client.post("/api/passkeys/options", {});
    assert.equal(options.status, 200, options.text);
    assert.equal(options.json.rp.id, "localhost");
    assert.equal(options.json.authenticatorSelection.userVerification, "required");
    const was = await snapshot();
    const response = {
      id: "AAAA",
      rawId: "AAAA",
      type: "public-key",
      response: {},
      clientExtensionResults: {},
    };
    const refused = await client.post("/api/passkeys", { response, pin: "not the pin 0000", name: "phone" });
    assertRefused(refused, 403, "wrong-pin");
    assert.match(refused.json.error.message, /before PIN entry on the page locks/);
    const now = await snapshot();
    // Counted on the page's own count (docs/spec.md §2.8), never the element's.
    assert.equal(now.failures, was.failures);
    assert.equal(JSON.parse(readFileSync(join(store, "owner.json"), "utf8")).page.failures, 1);
    assert.deepEqual(JSON.parse(readFileSync(join(store, "passkeys.json"), "utf8")).passkeys, []);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome],
      ["passkey-add", "web:pin", "wrong-pin"],
    );
  });
});

describe("a store without an owner PIN", () => {
  test("the page refuses every owner operation and says to run 'reid pin set' first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-nopin-"));
    const store = join(dir, "store");
    await reidOk(["--store", store, "init"]);
    const daemon = await serveWeb(store);
    try {
      const client = new PageClient(daemon);
      const session = await client.open();
      assert.equal(session.json.owner.pin, false);
      const refused = await client.post("/api/sign-in/pin", { pin: "anything-at-all" });
      assertRefused(refused, 403, "no-pin");
      assert.match(refused.json.error.message, /reid pin set/);
      assertRefused(await client.post("/api/sign-in/passkey/options", {}), 403, "no-pin");
      assert.equal((await status(store)).generation, 1);
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reid serve --web", () => {
  test("a host that is not loopback is a usage error (exit 2), and no daemon starts", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-cli-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = join(dir, "store");
    for (const address of [
      "0.0.0.0:8080",
      "192.168.1.10:8080",
      "[::]:8080",
      "[::ffff:127.0.0.1]:8080",
      "example.com:8080",
      "localhost.evil.example:8080",
      "127.0.0.1",
      "127.0.0.1:99999",
      "127.0.0.1:http",
    ]) {
      const result = await reid(["--store", store, "serve", "--web", address]);
      assertOneLineError(result, 2, /--web|loopback|port/);
      assert.equal(existsSync(join(store, "reid.sock")), false, `${address}: no socket`);
    }
  });

  test("a port already in use is a one-line error (exit 2), and nothing is left behind", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-busy-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = join(dir, "store");
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const result = await reid(["--store", store, "serve", "--web", `127.0.0.1:${port}`]);
    assertOneLineError(result, 2, /in use/);
    assert.equal(existsSync(join(store, "reid.sock")), false, "the daemon's socket was removed");
    // The store's lock was released: a plain command opens it at once.
    await reidOk(["--store", store, "status"], { env: { REID_LOCK_TIMEOUT: "0" } });
    assert.ok(statSync(store).isDirectory());
  });
});
