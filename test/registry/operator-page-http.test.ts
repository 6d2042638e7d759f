// The operator's page (docs/spec.md §10.11) as plain HTTPS requests to a real `reid registry
// serve`, with a cookie jar of one cookie: what a browser's session may do and what it may not.
// No session is no data; the operator token opens a session and is a credential nowhere else on
// the page; every state-changing call without the session's CSRF token, from another Origin,
// cross-site or not JSON is refused and changes nothing, while the same call done right goes
// through; the page's operations answer what the bearer API answers; the session's event stream
// sees another process's commit and ends when the session does.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Agent } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { splitEvents } from "../../src/http/event-stream.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { reidJson, reidOk } from "../helpers/cli.js";
import { curl, newToken, registryForSuite } from "../helpers/registry.js";
import { type Authority, databaseRows, openStore, registryAuthority, time } from "./fleet-fixture.js";
import { open, type RawAnswer, registryAgent, send } from "./https-request.js";

const API = "/operator/api";
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/** An answer's one-line JSON refusal: its status and code. */
function assertRefused(answer: RawAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${answer.body}`);
  assert.match(String(answer.headers["content-type"]), /^application\/json/);
  assert.equal(JSON.parse(answer.body).error.code, code, answer.body);
  assert.equal(answer.headers["www-authenticate"], undefined, "the page asks for no bearer header");
}

/** A browser's calls to the page, as it would make them: one cookie, the page's Origin, its CSRF token. */
class PageClient {
  cookie: string | null = null;
  csrf = "";
  setCookie: string | null = null;

  constructor(
    readonly port: number,
    private readonly agent: Agent,
  ) {}

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    return this.remember(
      await send(this.port, this.agent, {
        method: "GET",
        path,
        headers: { ...this.cookieHeader(), ...headers },
      }),
    );
  }

  /** A POST as the page sends it, unless `headers` says otherwise (null: leave that header out). */
  async post(path: string, body: unknown, headers: Record<string, string | null> = {}): Promise<RawAnswer> {
    const all: Record<string, string | null> = {
      origin: this.origin,
      "sec-fetch-site": "same-origin",
      "x-csrf-token": this.csrf,
      "content-type": "application/json",
      ...this.cookieHeader(),
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) as Record<
      string,
      string
    >;
    return this.remember(
      await send(this.port, this.agent, {
        method: "POST",
        path,
        headers: sent,
        body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
      }),
    );
  }

  /** GET the session (opening one) and keep its CSRF token. */
  async session(): Promise<{ signedIn: boolean; csrf: string; lastEventSequence: number | null }> {
    const answer = await this.get(`${API}/session`);
    assert.equal(answer.status, 200, answer.body);
    const view = JSON.parse(answer.body);
    this.csrf = view.csrf;
    return view;
  }

  async signIn(token: string): Promise<RawAnswer> {
    if (!this.csrf) await this.session();
    const answer = await this.post(`${API}/sign-in`, { token });
    if (answer.status === 200) this.csrf = JSON.parse(answer.body).csrf;
    return answer;
  }

  private cookieHeader(): Record<string, string> {
    return this.cookie ? { cookie: this.cookie } : {};
  }

  private remember(answer: RawAnswer): RawAnswer {
    const set = answer.headers["set-cookie"]?.[0] ?? null;
    this.setCookie = set;
    if (set) this.cookie = set.split(";")[0] ?? null;
    return answer;
  }
}

describe("the operator's page over plain HTTPS", () => {
  const fixture = registryForSuite();
  let agent: Agent;
  let token = "";
  let store: RegistryStore;
  let authority: Authority;
  /** Three devices made through the store. */
  const handles: string[] = [];
  const client = () => new PageClient(fixture.served.port, agent);

  before(async () => {
    agent = registryAgent(readFileSync(join(fixture.dir, "ca.pem"), "utf8"));
    token = readFileSync(join(fixture.dir, "operator.token"), "utf8").trim();
    store = await openStore(fixture.dir);
    authority = await registryAuthority(fixture.dir);
    for (let i = 0; i < 3; i++) {
      const identity = await authority.issue(time(i));
      await store.enroll({ ...identity, at: time(i) });
      handles.push(identity.handle);
    }
  });

  after(async () => {
    agent?.destroy();
    await store?.close();
  });

  test("no session, no data: the fleet's calls are 401 without a signed-in session, the bearer token included", async () => {
    const handle = handles[0] as string;
    const reads = [
      `${API}/v1/devices`,
      `${API}/v1/devices/${handle}`,
      `${API}/v1/events`,
      `${API}/v1/events/stream`,
    ];
    const anonymous = client();
    for (const path of reads) assertRefused(await anonymous.get(path), 401, "not-signed-in");
    // A session not signed in is no better, and the session's view says nothing of the registry.
    const view = await anonymous.session();
    assert.deepEqual([view.signedIn, view.lastEventSequence], [false, null]);
    assert.match(view.csrf, /^[A-Za-z0-9_-]{43}$/);
    for (const path of reads) assertRefused(await anonymous.get(path), 401, "not-signed-in");
    // The operator token is the bearer API's credential, not the page's.
    for (const path of reads) {
      assertRefused(await client().get(path, { authorization: `Bearer ${token}` }), 401, "not-signed-in");
    }
    const revoke = await anonymous.post(`${API}/v1/devices/${handle}/revoke`, { reason: "unspecified" });
    assertRefused(revoke, 401, "not-signed-in");
    assert.equal((await store.device(handle))?.status, "active");
  });

  test("every answer carries the CSP and the security headers; the page answers only the registry's names", async () => {
    const anonymous = client();
    for (const path of [
      "/operator/",
      "/operator/app.js",
      "/operator/style.css",
      `${API}/session`,
      `${API}/v1/devices`,
    ]) {
      const answer = await anonymous.get(path);
      assert.equal(answer.headers["content-security-policy"], CSP, path);
      assert.equal(answer.headers["x-frame-options"], "DENY", path);
      assert.equal(answer.headers["x-content-type-options"], "nosniff", path);
      assert.equal(answer.headers["referrer-policy"], "no-referrer", path);
      assert.equal(answer.headers["cross-origin-opener-policy"], "same-origin", path);
      assert.equal(answer.headers["cache-control"], "no-store", path);
    }
    const page = await anonymous.get("/operator/");
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    // No script or style in the document itself: the CSP would refuse it.
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    const bare = await anonymous.get("/operator");
    assert.deepEqual([bare.status, bare.headers.location], [308, "/operator/"]);
    // Another name for the same address (a DNS-rebound one) is refused, files and API alike; the
    // registry's other name serves the page too. (curl: its TLS checks the address, not the Host.)
    const ca = join(fixture.dir, "ca.pem");
    const asHost = (path: string, host: string) =>
      curl(fixture.root, `${fixture.served.base}${path}`, {
        ca,
        args: ["-H", `Host: ${host}:${fixture.served.port}`],
      });
    for (const path of ["/operator/", `${API}/session`]) {
      const refused = await asHost(path, "rebound.example");
      assert.equal(refused.status, 421, path);
      assert.equal(JSON.parse(refused.body.toString()).error.code, "wrong-host");
    }
    assert.equal((await asHost("/operator/", "localhost")).status, 200);
  });

  test("sign-in: a wrong token, an enrollment token or no token is refused; the operator token opens a new session", async () => {
    const browser = client();
    const before = await browser.session();
    const firstCookie = browser.cookie;
    assertRefused(await browser.signIn("A".repeat(43)), 401, "operator-refused");
    assertRefused(await browser.signIn(await newToken(fixture.dir)), 401, "operator-refused");
    assertRefused(await browser.signIn("not a token"), 400, "usage");
    assertRefused(await browser.post(`${API}/sign-in`, {}), 400, "usage");
    assertRefused(await browser.post(`${API}/sign-in`, { token, extra: 1 }), 400, "usage");
    assertRefused(await browser.get(`${API}/v1/devices`), 401, "not-signed-in");
    assert.equal(browser.cookie, firstCookie, "a refused sign-in sets no cookie");

    const signedIn = await browser.signIn(token);
    assert.equal(signedIn.status, 200, signedIn.body);
    assert.ok(!signedIn.body.includes(token), "the answer does not echo the token");
    const view = JSON.parse(signedIn.body);
    assert.equal(view.signedIn, true);
    assert.notEqual(view.csrf, before.csrf);
    assert.equal(view.lastEventSequence, await store.lastEventSequence());
    const cookie = browser.setCookie ?? "";
    assert.match(cookie, /^__Host-reid_operator=[A-Za-z0-9_-]{43}; /);
    assert.ok(!cookie.includes(token));
    for (const attribute of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"]) {
      assert.ok(cookie.split("; ").includes(attribute), `${attribute} missing: ${cookie}`);
    }
    assert.notEqual(browser.cookie, firstCookie, "a new session id");
    assert.equal((await browser.get(`${API}/v1/devices`)).status, 200);

    // The session of before sign-in is gone: its id signs nobody in.
    const planted = client();
    planted.cookie = firstCookie;
    assertRefused(await planted.get(`${API}/v1/devices`), 401, "not-signed-in");
  });

  test("CSRF: a state-changing call without the session's token, from another Origin, cross-site or not JSON is refused", async () => {
    const browser = client();
    assert.equal((await browser.signIn(token)).status, 200);
    const handle = handles[1] as string;
    const revoke = `${API}/v1/devices/${handle}/revoke`;
    const body = { reason: "cessationOfOperation" };
    const rows = databaseRows(fixture.dir);
    const other = client();
    await other.session();
    const refusals: [string, Record<string, string | null>, number, string][] = [
      ["no CSRF token", { "x-csrf-token": null }, 403, "csrf"],
      ["another session's CSRF token", { "x-csrf-token": other.csrf }, 403, "csrf"],
      ["a CSRF token one character off", { "x-csrf-token": `${browser.csrf.slice(0, -1)}A` }, 403, "csrf"],
      ["another Origin", { origin: "https://evil.example" }, 403, "bad-origin"],
      [
        "the registry's origin on another port",
        { origin: `https://127.0.0.1:${browser.port + 1}` },
        403,
        "bad-origin",
      ],
      ["no Origin", { origin: null }, 403, "bad-origin"],
      ["a cross-site fetch", { "sec-fetch-site": "cross-site" }, 403, "cross-site"],
      ["a form's content type", { "content-type": "text/plain" }, 415, "not-json"],
      ["no session", { cookie: null }, 401, "no-session"],
    ];
    for (const [what, headers, status, code] of refusals) {
      const answer = await browser.post(revoke, body, headers);
      assert.equal(answer.status, status, `${what}: ${answer.body}`);
      assertRefused(answer, status, code);
    }
    // The token form and sign-out are held to the same.
    assertRefused(await browser.post(`${API}/v1/tokens`, {}, { "x-csrf-token": null }), 403, "csrf");
    assertRefused(
      await browser.post(`${API}/sign-out`, {}, { origin: "https://evil.example" }),
      403,
      "bad-origin",
    );
    assertRefused(await other.post(`${API}/sign-in`, { token }, { "x-csrf-token": null }), 403, "csrf");
    assert.deepEqual(databaseRows(fixture.dir), rows, "a refused call changed the registry");
    assert.equal((await browser.get(`${API}/v1/devices?limit=1`)).status, 200, "still signed in");

    // The same call done right goes through, and `registry show` sees it.
    const done = await browser.post(revoke, body);
    assert.equal(done.status, 200, done.body);
    const shown = await reidJson<{ device: { status: string }; certificate: { revocationReason: string } }>([
      "registry",
      "show",
      handle,
      "--dir",
      fixture.dir,
    ]);
    assert.deepEqual(
      [shown.device.status, shown.certificate.revocationReason],
      ["revoked", "cessationOfOperation"],
    );
  });

  test("the page's operations answer what the bearer API answers, refusals included", async () => {
    const browser = client();
    assert.equal((await browser.signIn(token)).status, 200);
    const bearer = (path: string) =>
      send(fixture.served.port, agent, {
        method: "GET",
        path,
        headers: { authorization: `Bearer ${token}` },
      });
    for (const path of ["/v1/devices?limit=2", `/v1/devices/${handles[0]}`, "/v1/events?since=1&limit=2"]) {
      const [page, api] = [await browser.get(`${API}${path}`), await bearer(path)];
      assert.equal(page.status, 200, page.body);
      assert.deepEqual(JSON.parse(page.body), JSON.parse(api.body), path);
    }
    assertRefused(await browser.get(`${API}/v1/devices/${"0".repeat(32)}`), 404, "unknown-device");
    assertRefused(await browser.get(`${API}/v1/devices/NOT-A-HANDLE`), 400, "usage");
    assertRefused(await browser.get(`${API}/v1/devices?status=lost`), 400, "usage");
    assertRefused(
      await browser.post(`${API}/v1/devices/${handles[1]}/revoke`, { reason: "unspecified" }),
      409,
      "device-not-active",
    );
    const made = await browser.post(`${API}/v1/tokens`, { ttl: "1h", label: "line 9" });
    assert.equal(made.status, 200, made.body);
    const issued = JSON.parse(made.body);
    assert.match(issued.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(issued.label, "line 9");
  });

  test("the session's event stream: another process's commit as it happens, then `end` when the session signs out", async () => {
    const browser = client();
    assert.equal((await browser.signIn(token)).status, 200);
    const since = await store.lastEventSequence();
    const stream = await open(browser.port, agent, {
      method: "GET",
      path: `${API}/v1/events/stream?since=${since}`,
      headers: { cookie: browser.cookie as string },
    });
    assert.equal(stream.incoming.statusCode, 200);
    assert.match(String(stream.incoming.headers["content-type"]), /^text\/event-stream/);
    const seen: { event: string | undefined; data: string | undefined }[] = [];
    let buffer = "";
    let wake = () => {};
    const closed = new Promise<void>((resolve) => stream.incoming.once("end", () => resolve()));
    stream.incoming.setEncoding("utf8");
    stream.incoming.on("data", (chunk: string) => {
      const { events, rest } = splitEvents(buffer + chunk);
      buffer = rest;
      seen.push(...events.filter((e) => e.event !== undefined));
      wake();
    });
    const until = async (ok: () => boolean) => {
      while (!ok()) await new Promise<void>((resolve) => (wake = resolve));
    };
    try {
      await until(() => seen.length >= 1);
      assert.equal(seen[0]?.event, "ready");
      const target = handles[2] as string;
      await reidOk(["registry", "revoke", target, "--reason", "privilegeWithdrawn", "--dir", fixture.dir]);
      await until(() => seen.length >= 2);
      const event = JSON.parse(seen[1]?.data as string);
      assert.deepEqual(
        [seen[1]?.event, event.handle, event.data.reason],
        ["revoked", target, "privilegeWithdrawn"],
      );
      assert.equal(event.sequence, since + 1);

      assert.equal((await browser.post(`${API}/sign-out`, {})).status, 200);
      await until(() => seen.length >= 3);
      assert.equal(seen[2]?.event, "end");
      await closed;
      assertRefused(await browser.get(`${API}/v1/devices`), 401, "not-signed-in");
    } finally {
      stream.destroy();
    }
  });
});
