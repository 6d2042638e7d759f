// End to end in real Chromium (Debian's, driven by playwright-core) against a real `reid serve --web`:
// sign-in with the PIN and with a passkey of a CDP virtual authenticator (CTAP2, internal, user
// verification), a reset from the page proved by a fresh passkey assertion, live events, and the
// refusals: no user verification, a replayed or misdirected assertion, a wrong PIN. What the page
// claims is checked against the element through the CLI (reid status/log go through the daemon).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, CDPSession, Page } from "playwright-core";
import { reidOk } from "../helpers/cli.js";
import {
  auditLog,
  inlineScriptRuns,
  launch,
  PIN,
  screenshot,
  serveWeb,
  setPin,
  status,
  virtualAuthenticator,
  type WebDaemon,
} from "./helpers.js";
import { message } from "./page-checks.js";

/** The little of the DOM the callbacks run in the page use (the project's tsconfig has no DOM lib). */
interface PageGlobals {
  readonly document: {
    getElementById(id: string): { readonly textContent: string | null } | null;
    readonly cookie: string;
  };
}

interface StoredPasskeys {
  passkeys: { id: string; counter: number; lastUsed: string | null }[];
}

describe("the owner's page in Chromium", () => {
  let dir: string;
  let store: string;
  let pinFile: string;
  let daemon: WebDaemon;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  let passkeyId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reid-web-browser-"));
    store = join(dir, "store");
    pinFile = await setPin(dir, store);
    await reidOk(["--store", store, "--pin-file", pinFile, "init"]);
    daemon = await serveWeb(store);
    browser = await launch();
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    ({ cdp, authenticatorId } = await virtualAuthenticator(page));
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function passkeysFile(): StoredPasskeys {
    return JSON.parse(readFileSync(join(store, "passkeys.json"), "utf8")) as StoredPasskeys;
  }

  test("signs in with the PIN and registers a passkey with the PIN again", async () => {
    // Only the link of `reid page` opens the page; the browser lands on / without the token.
    await page.goto(await daemon.link());
    assert.equal(page.url(), `${daemon.origin}/`);
    await page.waitForSelector("#sign-in:not([hidden])");
    await screenshot(page, "01-sign-in");
    await page.fill("#sign-in-pin", PIN);
    await page.click("#pin-sign-in-button");
    await page.waitForSelector("#owner:not([hidden])");
    assert.equal(await page.textContent("#who"), "signed in with the PIN");
    const s = await status(store);
    await page.waitForFunction(
      (g) =>
        (globalThis as unknown as PageGlobals).document.getElementById("status-generation")?.textContent ===
        g,
      String(s.generation),
    );
    assert.equal(await page.textContent("#status-handle"), s.handle);
    assert.equal(await page.textContent("#status-state"), "set");

    // The session cookie is HttpOnly and SameSite=Strict: the page's scripts cannot read it.
    const [cookie] = await page.context().cookies();
    assert.equal(cookie?.name, "reid_session");
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, "Strict");
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie), "");
    // The CSP holds: a script injected inline does not run.
    assert.equal(await inlineScriptRuns(page), false);

    // Registering without a name, or without the PIN again, is refused by the page before anything
    // is asked of the authenticator.
    await page.click("#register-passkey");
    await message(page, /give the passkey a name/);
    await page.fill("#register-name", "phone");
    await page.click("#register-passkey");
    await message(page, /PIN again/);
    assert.equal(existsSync(join(store, "passkeys.json")), false);

    await page.fill("#register-pin", PIN);
    await page.click("#register-passkey");
    await message(page, /Passkey “phone” registered/);
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]?.rpId, "localhost");
    const file = passkeysFile();
    assert.equal(file.passkeys.length, 1);
    passkeyId = file.passkeys[0]?.id as string;
    assert.equal(Buffer.from(passkeyId, "base64url").toString("base64"), credentials[0]?.credentialId);
    assert.equal(statSync(join(store, "passkeys.json")).mode & 0o777, 0o600);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual([last?.request, last?.principal, last?.outcome], ["passkey-add", "web:pin", "ok"]);
    await page.waitForSelector(`#passkeys li[data-id="${passkeyId}"]`);
    await screenshot(page, "02-passkey-registered");
  });

  test("signs out, signs in with the passkey, and resets from the page with a fresh passkey assertion", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])");
    await page.click("#passkey-sign-in");
    await page.waitForSelector("#owner:not([hidden])");
    // The header names the passkey, never its credential id.
    assert.equal(await page.textContent("#who"), "signed in with passkey “phone”");
    const signInCounter = passkeysFile().passkeys[0]?.counter ?? -1;
    await page.waitForSelector("#events-state:has-text('connected')");

    const before = await status(store);
    await page.check("#proof-kind-passkey");
    const sent = page.waitForRequest((r) => r.url().endsWith("/api/requests") && r.method() === "POST");
    await page.click("#do-reset");
    const body = (await sent).postData() ?? "";
    // The event arrives live, over the page's event stream.
    await page.waitForSelector(
      `#events li[data-request="reset"][data-generation="${before.generation + 1}"]`,
    );
    await message(page, /reset done/);
    const afterReset = await status(store);
    assert.equal(afterReset.generation, before.generation + 1);
    assert.notEqual(afterReset.handle, before.handle);
    await page.waitForFunction(
      (h) =>
        (globalThis as unknown as PageGlobals).document.getElementById("status-handle")?.textContent === h,
      afterReset.handle as string,
    );
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome, last?.generation],
      ["reset", `web:passkey:${passkeyId}`, "ok", before.generation + 1],
    );
    // The authenticator's counter went up with every use, and the element kept it.
    assert.ok((passkeysFile().passkeys[0]?.counter ?? -1) > signInCounter);
    // The proof was an assertion, never a PIN, and the page sent no identifier.
    assert.match(body, /"passkey":/);
    assert.doesNotMatch(body, /"pin"/);
    await screenshot(page, "03-reset-by-passkey");

    // The same assertion again is refused: its challenge was spent.
    const replay = await page.evaluate(async (text) => {
      const session = (await (await fetch("/api/session")).json()) as { csrf: string };
      const reply = await fetch("/api/requests", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
        body: text,
      });
      return { status: reply.status, body: (await reply.json()) as { error: { code: string } } };
    }, body);
    assert.equal(replay.status, 403);
    assert.equal(replay.body.error.code, "challenge-expired");
    assert.equal((await status(store)).generation, afterReset.generation);

    // A request from elsewhere (the CLI) shows up on the page as it happens.
    await reidOk(["--store", store, "--pin-file", pinFile, "reset"]);
    await page.waitForSelector(
      `#events li[data-request="reset"][data-generation="${afterReset.generation + 1}"]`,
    );
  });

  test("an assertion made for one operation does not authorize another", async () => {
    const before = await status(store);
    // The page asks for an erase challenge; the request is rewritten to ask for a reset one.
    await page.route("**/api/proof/options", (route) =>
      route.continue({ postData: JSON.stringify({ intent: "reset" }) }),
    );
    try {
      await page.check("#proof-kind-passkey");
      await page.fill("#erase-confirm", before.handle?.slice(0, 8) ?? "");
      await page.click("#do-erase");
      await message(page, /another operation/);
    } finally {
      await page.unroute("**/api/proof/options");
    }
    const now = await status(store);
    assert.equal(now.state, "set");
    assert.equal(now.generation, before.generation);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome],
      ["erase", `web:passkey:${passkeyId}`, "challenge-mismatch"],
    );
  });

  test("schedules from the form and cancels from the list, each with the PIN typed again", async () => {
    const auditBefore = (await auditLog(store)).length;
    // A local time a day ahead, as a datetime-local field holds it, from the browser's own clock and zone.
    const local = await page.evaluate(() => {
      const d = new Date(Date.now() + 24 * 3600_000);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    });
    await page.check("#proof-kind-pin");
    await page.fill("#proof-pin", PIN);
    await page.selectOption("#schedule-type", "erase");
    await page.fill("#schedule-at", local);
    await page.click("#schedule-button");
    await message(page, /Scheduled erase at/);
    const [entry] = (await status(store)).scheduled;
    assert.equal(entry?.type, "erase");
    assert.equal(Math.abs(Date.parse(entry?.at ?? "") - Date.now() - 24 * 3600_000) < 120_000, true);
    const cancel = `#scheduled li[data-id="${entry?.id}"] button.cancel`;
    await page.waitForSelector(cancel);
    await screenshot(page, "04-scheduled");

    // The PIN field was emptied after use: a second operation needs it typed again.
    assert.equal(await page.inputValue("#proof-pin"), "");
    await page.click(cancel);
    await message(page, /type the PIN to confirm/);
    assert.equal((await status(store)).scheduled.length, 1);

    await page.fill("#proof-pin", PIN);
    await page.click(cancel);
    await message(page, /Cancelled the erase/);
    assert.deepEqual((await status(store)).scheduled, []);
    await page.waitForSelector("#scheduled li:has-text('nothing scheduled')");
    const records = (await auditLog(store)).slice(auditBefore);
    assert.deepEqual(
      records.map((r) => [r.request, r.principal, r.outcome]),
      [
        ["schedule-erase", "web:pin", "ok"],
        ["cancel-schedule", "web:pin", "ok"],
      ],
    );
  });

  test("with isUserVerified false, reset and sign-in by passkey are refused and nothing changes", async () => {
    await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
    const before = await status(store);
    const auditBefore = (await auditLog(store)).length;

    // As the page asks (user verification required), the authenticator cannot answer at all.
    await page.check("#proof-kind-passkey");
    await page.click("#do-reset");
    await message(page, /not verify you|NotAllowedError/);

    // A page that asked for less (userVerification "discouraged") gets an assertion without the UV
    // flag: the element refuses it itself.
    await page.route("**/api/proof/options", async (route) => {
      const response = await route.fetch();
      const options = await response.json();
      await route.fulfill({ response, json: { ...options, userVerification: "discouraged" } });
    });
    try {
      await page.click("#do-reset");
      await message(page, /passkey was refused.*verif/i);
    } finally {
      await page.unroute("**/api/proof/options");
    }
    const afterReset = await status(store);
    assert.equal(afterReset.generation, before.generation);
    assert.equal(afterReset.handle, before.handle);
    await screenshot(page, "05-reset-refused-without-user-verification");

    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])");
    await page.click("#passkey-sign-in");
    await message(page, /not verify you|NotAllowedError/);
    await page.route("**/api/sign-in/passkey/options", async (route) => {
      const response = await route.fetch();
      const options = await response.json();
      await route.fulfill({ response, json: { ...options, userVerification: "discouraged" } });
    });
    try {
      await page.click("#passkey-sign-in");
      await message(page, /passkey was refused.*verif/i);
    } finally {
      await page.unroute("**/api/sign-in/passkey/options");
    }
    assert.equal(await page.isVisible("#owner"), false);
    const denied = await page.evaluate(async () => (await fetch("/api/log")).status);
    assert.equal(denied, 401);
    await screenshot(page, "06-sign-in-refused-without-user-verification");

    const now = await status(store);
    assert.equal(now.generation, before.generation);
    assert.equal(now.handle, before.handle);
    const records = (await auditLog(store)).slice(auditBefore);
    assert.deepEqual(
      records.map((r) => [r.request, r.principal, r.outcome]),
      [
        ["reset", `web:passkey:${passkeyId}`, "passkey-refused"],
        ["web-sign-in", `web:passkey:${passkeyId}`, "passkey-refused"],
      ],
    );
  });

  test("a passkey can be removed with a fresh proof, and then signs in no more", async () => {
    await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });
    await page.click("#passkey-sign-in");
    await page.waitForSelector("#owner:not([hidden])");
    await page.check("#proof-kind-passkey");
    await page.click(`#passkeys li[data-id="${passkeyId}"] button`);
    await message(page, /Passkey “phone” removed/);
    assert.deepEqual(passkeysFile().passkeys, []);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome],
      ["passkey-remove", `web:passkey:${passkeyId}`, "ok"],
    );
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])");
    assert.equal(await page.isDisabled("#passkey-sign-in"), true);
    // The authenticator still holds the credential, but the element no longer knows it.
    const refused = await page.evaluate(async () => {
      const session = (await (await fetch("/api/session")).json()) as { csrf: string };
      const reply = await fetch("/api/sign-in/passkey/options", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
        body: "{}",
      });
      return { status: reply.status, body: (await reply.json()) as { error: { code: string } } };
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "no-passkey");
  });

  test("a wrong PIN in the sign-in form is refused and counted, on the page's own count", async () => {
    const before = await status(store);
    const pageTries = () => JSON.parse(readFileSync(join(store, "owner.json"), "utf8")).page?.failures ?? 0;
    const tried = pageTries();
    await page.fill("#sign-in-pin", "not the pin 0000");
    await page.click("#pin-sign-in-button");
    await message(page, /wrong PIN \(\d tries left before PIN entry on the page locks/);
    assert.equal(await page.isVisible("#owner"), false);
    const now = await status(store);
    assert.equal(pageTries(), tried + 1);
    assert.equal(now.owner.failures, before.owner.failures, "the element's own count is the terminal's");
    assert.equal(now.generation, before.generation);
    const last = (await auditLog(store)).at(-1);
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome],
      ["web-sign-in", "web:pin", "wrong-pin"],
    );
    await screenshot(page, "07-wrong-pin");
  });
});
