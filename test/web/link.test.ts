// The page's capability (docs/spec.md §8.2): a one-time link from `reid page`, fetched through the
// daemon's socket. Opened once, it gives a session cookie and lands on the page without the token;
// used again, made up or expired, it opens nothing. Without the daemon's page there is no link.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LINK_MS, PageLinks } from "../../src/web/links.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { startServe } from "../helpers/daemon.js";
import { PageClient, type ServedPage, servedPage, type WebDaemon } from "./helpers.js";

describe("the sign-in link of `reid page`", () => {
  let served: ServedPage;
  let store: string;
  let daemon: WebDaemon;

  before(async () => {
    served = await servedPage("reid-web-link-");
    ({ store, daemon } = served);
  });

  after(() => served?.close());

  test("opens the page once, then lands on a URL without the token; used again it is refused", async () => {
    const link = new URL(await daemon.link());
    assert.equal(link.origin, daemon.origin);
    assert.equal(link.pathname, "/link");
    assert.match(link.searchParams.get("token") ?? "", /^[A-Za-z0-9_-]{43}$/);
    const client = new PageClient(daemon);
    const opened = await client.get(`${link.pathname}${link.search}`);
    assert.equal(opened.status, 303);
    assert.equal(opened.headers.location, "/");
    assert.equal((await client.get("/")).status, 200);
    assert.equal((await client.get("/api/session")).json.signedIn, false);

    const again = new PageClient(daemon);
    const refused = await again.get(`${link.pathname}${link.search}`);
    assert.equal(refused.status, 403);
    assert.match(refused.text, /used or has expired/);
    assert.equal(refused.headers["set-cookie"], undefined, "a spent link sets no cookie");
    assert.equal((await again.get("/")).status, 401);
  });

  test("a made-up, a missing or an overlong token opens nothing", async () => {
    for (const path of [
      "/link",
      "/link?token=",
      `/link?token=${"A".repeat(43)}`,
      `/link?token=${"A".repeat(5000)}`,
    ]) {
      const client = new PageClient(daemon);
      const reply = await client.get(path);
      assert.equal(reply.status, 403, path);
      assert.equal(reply.headers["set-cookie"], undefined, path);
    }
  });

  test("the page's own port mints no link, even for a signed-in session", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    for (const path of ["/v1/page/link", "/api/page/link", "/api/v1/page/link"]) {
      const reply = await client.post(path, {});
      assert.equal(reply.status, 404, `${path}: ${reply.text}`);
      assert.doesNotMatch(reply.text, /token=/);
    }
  });

  test("`reid page --json` names the link and when it expires", async () => {
    const link = await reidJson<{ url: string; expires: string }>(["--store", store, "page"]);
    assert.match(link.url, new RegExp(`^${daemon.origin}/link\\?token=`));
    const left = Date.parse(link.expires) - Date.now();
    assert.ok(left > 0 && left <= LINK_MS, `expires in ${left} ms`);
  });
});

describe("`reid page` without a page", () => {
  test("no daemon, or a daemon without --web: exit 3, no link", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-nolink-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = join(dir, "store");
    await reidOk(["--store", store, "init"]);
    assertOneLineError(await reid(["--store", store, "page"]), 3, /no daemon .*'reid serve --web/);
    const served = await startServe(store);
    try {
      assertOneLineError(await reid(["--store", store, "page"]), 3, /serves no page/);
    } finally {
      await served.stop();
    }
  });
});

describe("PageLinks", () => {
  test("a link dies after LINK_MS unopened, and at its first use", async () => {
    let now = 1_000_000;
    const links = new PageLinks("http://localhost:1", () => now);
    const token = (url: string) => new URL(url).searchParams.get("token") ?? "";
    const late = token((await links.pageLink()).url);
    const once = token((await links.pageLink()).url);
    now += LINK_MS;
    assert.equal(links.redeem(once), true);
    assert.equal(links.redeem(once), false);
    now += 1;
    assert.equal(links.redeem(late), false);
    assert.equal(links.redeem(undefined), false);
  });

  test("at most 16 are outstanding: a 17th replaces the oldest", async () => {
    const links = new PageLinks("http://localhost:1");
    const tokens: string[] = [];
    for (let i = 0; i < 17; i++)
      tokens.push(new URL((await links.pageLink()).url).searchParams.get("token") ?? "");
    assert.equal(links.redeem(tokens[0]), false);
    for (const token of tokens.slice(1)) assert.equal(links.redeem(token), true);
  });
});
