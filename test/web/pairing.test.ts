// The page's "Pair a user" button, in real Chromium against a real `reid serve --web --device`: the
// owner opens a pairing window with a fresh proof, the page shows the setup code and its QR code, and
// a second store binds with that code through the CLI, as a user's machine would. Then the same
// request as an attacker makes it: signed in without a proof, cross-site without the CSRF token, and
// without the sign-in link at all; each is refused and opens no window (a bind says `not-pairing`).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { renderSVG } from "uqr";
import { reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  ARTIFACTS,
  auditLog,
  freePort,
  launch,
  PageClient,
  PIN,
  serveWeb,
  setPin,
  status,
  virtualAuthenticator,
  type WebDaemon,
} from "./helpers.js";

const CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

/** A device's store with the owner's PIN and an identifier, its daemon serving the page and, with `device`, the device role. */
async function servedDevice(dir: string, device: boolean) {
  const store = join(dir, "device");
  const pinFile = await setPin(dir, store);
  await reidOk(["--store", store, "--pin-file", pinFile, "init"]);
  const listen = `127.0.0.1:${await freePort()}`;
  const daemon = await serveWeb(store, device ? ["--device", "--listen", listen, "--no-mdns"] : []);
  return { store, listen, daemon };
}

/** A user's store (another machine's, in effect), with its own identifier. */
async function userStore(dir: string, name: string): Promise<string> {
  const store = join(dir, name);
  await reidOk(["--store", store, "init"]);
  return store;
}

/** `reid bind` from `store` with `code` in a 0600 file, as the user's machine runs it. */
function bind(dir: string, store: string, listen: string, handle: string, code: string) {
  const file = join(dir, `code-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${code}\n`, { mode: 0o600 });
  return reid(["--store", store, "bind", listen, "--expect-handle", handle, "--code-file", file]);
}

/** No window is open on the device: a bind with any code is refused as `not-pairing` (exit 3). */
async function assertNoWindow(dir: string, user: string, listen: string, handle: string): Promise<void> {
  const tried = await bind(dir, user, listen, handle, "AAAAA-AAAAA");
  assert.equal(tried.code, 3, tried.stderr);
  assert.match(tried.stderr, /not-pairing|not pairing/);
}

describe("the page's pairing button in Chromium", () => {
  let dir: string;
  let store: string;
  let listen: string;
  let daemon: WebDaemon;
  let browser: Browser;
  let page: Page;
  let code = "";
  const codes: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reid-web-pairing-"));
    ({ store, listen, daemon } = await servedDevice(dir, true));
    browser = await launch();
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(await daemon.link());
    await page.fill("#sign-in-pin", PIN);
    await page.click("#pin-sign-in-button");
    await page.waitForSelector("#owner:not([hidden])");
  });

  after(async () => {
    await browser?.close();
    const stopped = await daemon?.stop();
    // The codes were shown on the page and nowhere else: not in the daemon's output, not in the audit log.
    const texts = [
      stopped?.stdout.toString() ?? "",
      stopped?.stderr.toString() ?? "",
      readFileSync(join(store, "audit.log"), "latin1"),
    ];
    for (const shown of codes) {
      for (const text of texts) {
        assert.ok(!text.includes(shown) && !text.includes(shown.replace("-", "")), "a setup code leaked");
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("a window opened with the PIN shows a 10-character code and its SVG QR code, and a user's CLI binds with it", async () => {
    const handle = (await status(store)).handle as string;
    await page.waitForSelector("#pair-button:not([disabled])");
    assert.match((await page.textContent("#pairing-state")) ?? "", new RegExp(listen.replace(/\./g, "\\.")));
    assert.equal(await page.inputValue("#pairing-seconds"), "120");

    await page.fill("#proof-pin", PIN);
    await page.click("#pair-button");
    await page.waitForSelector("#pairing-open:not([hidden])");
    code = (await page.textContent("#pairing-code")) ?? "";
    assert.match(code, CODE);
    codes.push(code);
    assert.equal(code.replace("-", "").length, 10);
    assert.equal(await page.textContent("#pairing-bind"), `reid bind ${listen} --expect-handle ${handle}`);
    assert.match((await page.textContent("#pairing-countdown")) ?? "", /Open for (?:2:00|1:5\d) more/);

    // The QR code is an SVG element in the page (parsed as SVG, no img, no data: URL) that carries
    // exactly what the terminal's does: the address, the handle and the code.
    const qr = await page.$eval("#pairing-qr", (element) => {
      const svg = element.firstElementChild;
      return {
        tag: svg?.tagName,
        namespace: svg?.namespaceURI,
        path: svg?.querySelector("path")?.getAttribute("d"),
        images: element.querySelectorAll("img").length,
      };
    });
    const expected = renderSVG(`reid-pair://${listen}/?handle=${handle}&code=${code}`, {
      ecc: "M",
      border: 2,
    });
    assert.equal(qr.tag, "svg");
    assert.equal(qr.namespace, "http://www.w3.org/2000/svg");
    assert.equal(qr.images, 0);
    assert.ok(qr.path && expected.includes(`d="${qr.path}"`), "the QR code does not carry the window");
    // The artifact shows the panel, never the code: the code and its QR code are masked.
    await page.locator("#pairing-panel").screenshot({
      path: join(ARTIFACTS, "pairing-open.png"),
      mask: [page.locator("#pairing-code"), page.locator("#pairing-qr")],
    });

    // Recorded as the owner's `pair`, proved on the page, with the window's length and not the code.
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual([last?.request, last?.principal, last?.outcome], ["pair", "web:pin", "ok"]);

    const user = await userStore(dir, "user");
    const bound = await bind(dir, user, listen, handle, code);
    assert.equal(bound.code, 0, bound.stderr);
    const userHandle = (await reidJson<{ handle: string }>(["--store", user, "status"])).handle;
    const listed = await reidJson<{ bindings: { role: string; handle: string }[] }>([
      "--store",
      store,
      "bindings",
    ]);
    assert.deepEqual(
      listed.bindings.map((b) => [b.role, b.handle]),
      [["user", userHandle]],
    );
    // The code bound once: the window is closed, for this user and any other.
    await assertNoWindow(dir, await userStore(dir, "second"), listen, handle);
  });

  test("a passkey assertion made for the window proves it as well as the PIN", async () => {
    await virtualAuthenticator(page);
    await page.fill("#register-name", "key");
    await page.fill("#register-pin", PIN);
    await page.click("#register-passkey");
    await page.waitForSelector("#message:has-text('registered')");
    await page.check("#proof-kind-passkey");
    const previous = code;
    await page.click("#pair-button");
    await page.waitForFunction((before) => {
      const shown = (
        globalThis as unknown as {
          document: { getElementById(id: string): { textContent: string | null } | null };
        }
      ).document.getElementById("pairing-code")?.textContent;
      return Boolean(shown) && shown !== before;
    }, previous);
    const fresh = (await page.textContent("#pairing-code")) ?? "";
    assert.match(fresh, CODE);
    codes.push(fresh);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual([last?.request, last?.outcome], ["pair", "ok"]);
    assert.match(last?.principal ?? "", /^web:passkey:/);
    await page.check("#proof-kind-pin");
  });

  test("without a fresh proof the page's button opens nothing", async () => {
    const records = (await auditLog(store)).length;
    await page.fill("#proof-pin", "");
    await page.click("#pair-button");
    await page.waitForSelector("#message:has-text('type the PIN')");
    // Nothing reached the element: no record, and the window open before is the one still shown.
    assert.equal((await auditLog(store)).length, records);
  });
});

describe("the page of a daemon without the device role", () => {
  test("says so, and its pairing button is disabled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-pairing-none-"));
    const { daemon } = await servedDevice(dir, false);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(await daemon.link());
      await page.fill("#sign-in-pin", PIN);
      await page.click("#pin-sign-in-button");
      await page.waitForSelector("#pairing-state:has-text('serves no device role')");
      assert.equal(await page.isDisabled("#pair-button"), true);
      // The API says the same to a caller that skips the page's script.
      const client = new PageClient(daemon);
      await client.signInWithPin();
      const refused = await client.post("/api/pairing", { seconds: 60, proof: { pin: PIN } });
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.json.error.code, "no-device-role");
    } finally {
      await browser.close();
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("opening a pairing window from the page, as an attacker", () => {
  let dir: string;
  let store: string;
  let listen: string;
  let daemon: WebDaemon;
  let user: string;
  let handle: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reid-web-pairing-attack-"));
    ({ store, listen, daemon } = await servedDevice(dir, true));
    user = await userStore(dir, "stranger");
    handle = (await status(store)).handle as string;
  });

  after(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The owner's own request, right after the attacker's: it opens a window (so the refusal was the
   * attacker's missing piece, not a missing route), a one-second one that is over before the next test.
   */
  async function ownerOpens(client: PageClient): Promise<void> {
    const opened = await client.post("/api/pairing", { seconds: 1, proof: { pin: PIN } });
    assert.equal(opened.status, 200, opened.text);
    assert.match(opened.json.code, CODE);
    assert.match(opened.json.qr, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    await sleep(1500);
  }

  test("a signed-in session without a fresh proof is refused (proof-required) and opens no window", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    for (const proof of [undefined, {}, { pin: "" }]) {
      const refused = await client.post(
        "/api/pairing",
        proof === undefined ? { seconds: 120 } : { seconds: 120, proof },
      );
      assert.equal(refused.status, proof?.pin === "" ? 400 : 403, refused.text);
    }
    const refused = await client.post("/api/pairing", { seconds: 120 });
    assert.equal(refused.json.error.code, "proof-required");
    await assertNoWindow(dir, user, listen, handle);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual([last?.request, last?.outcome], ["pair", "proof-required"]);
    await ownerOpens(client);
  });

  test("a cross-site POST without the CSRF token is refused and opens no window", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    // The cookie rides along (as a lax browser would send it); the token the attacker cannot read.
    const crossSite = await client.post(
      "/api/pairing",
      { seconds: 120, proof: { pin: PIN } },
      { origin: "http://evil.example", "sec-fetch-site": "cross-site", "x-csrf-token": null },
    );
    assert.equal(crossSite.status, 403, crossSite.text);
    assert.equal(crossSite.json.error.code, "cross-site");
    const noToken = await client.post(
      "/api/pairing",
      { seconds: 120, proof: { pin: PIN } },
      { "x-csrf-token": null },
    );
    assert.equal(noToken.status, 403, noToken.text);
    assert.equal(noToken.json.error.code, "csrf");
    const forged = await client.post(
      "/api/pairing",
      { seconds: 120, proof: { pin: PIN } },
      { "x-csrf-token": "A".repeat(43) },
    );
    assert.equal(forged.json.error.code, "csrf");
    await assertNoWindow(dir, user, listen, handle);
    await ownerOpens(client);
  });

  test("a visitor without the sign-in link cannot open a window, even knowing the PIN", async () => {
    const stranger = new PageClient(daemon);
    for (const reply of [
      await stranger.get("/api/pairing"),
      await stranger.post("/api/pairing", { seconds: 120, proof: { pin: PIN } }, { "x-csrf-token": null }),
    ]) {
      assert.equal(reply.status, 401, reply.text);
      assert.equal(reply.json.error.code, "no-link");
    }
    // With a link but not signed in: still nothing.
    const visitor = new PageClient(daemon);
    await visitor.open();
    const notSignedIn = await visitor.post("/api/pairing", { seconds: 120, proof: { pin: PIN } });
    assert.equal(notSignedIn.status, 401, notSignedIn.text);
    assert.equal(notSignedIn.json.error.code, "not-signed-in");
    await assertNoWindow(dir, user, listen, handle);
    await visitor.signInWithPin();
    await ownerOpens(visitor);
  });

  test("a window's length is held to the CLI's bounds before the proof is looked at", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const before = (await auditLog(store)).length;
    for (const seconds of [0, 601, 1.5, "120"]) {
      const refused = await client.post("/api/pairing", { seconds, proof: { pin: PIN } });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.json.error.message, /'seconds' must be a whole number of seconds, 1 to 600/);
    }
    assert.equal((await auditLog(store)).length, before);
    await assertNoWindow(dir, user, listen, handle);
  });
});
