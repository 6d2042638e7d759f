// The operator's page (docs/spec.md §10.11) end to end in real Chromium (Debian's, driven by
// playwright-core) against a real `reid registry serve` on loopback, with a real element enrolled
// and reset and a fleet made through the store. Chromium trusts the registry by its server key's
// pin, nothing wider. What the page claims is checked against the registry through the CLI.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { reidJson, reidOk } from "../helpers/cli.js";
import { enrolledElement, registryForSuite } from "../helpers/registry.js";
import { inlineScriptRuns, launch, screenshot } from "../web/helpers.js";
import { bulkEnroll, registryAuthority } from "./fleet-fixture.js";

/** What a callback run in the page touches (the project's tsconfig has no DOM lib). */
interface PageGlobals {
  readonly document: {
    readonly cookie: string;
    readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
  };
  readonly localStorage: { readonly length: number };
  readonly sessionStorage: { readonly length: number };
  getComputedStyle(node: unknown): {
    readonly backgroundColor: string;
    readonly outlineStyle: string;
    readonly outlineWidth: string;
  };
}

interface Report {
  device: { handle: string; status: string };
  certificate: { status: string; revocationReason: string | null };
  chain: { handle: string; status: string; enrolledAt: string; updatedAt: string; asked: boolean }[];
}

/** The base64 SHA-256 of the registry's TLS key (SubjectPublicKeyInfo): the one key Chromium is told to trust. */
function serverKeyPin(dir: string): string {
  const certificate = new X509Certificate(readFileSync(join(dir, "server.pem")));
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

async function message(page: Page, pattern: RegExp): Promise<string> {
  const shown = page.locator("#message").filter({ hasText: pattern });
  await shown.waitFor();
  return (await shown.textContent()) ?? "";
}

describe("the operator's page in Chromium", () => {
  const fixture = registryForSuite();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token = "";
  let origin = "";
  /** The enrolled element's handle, before and after its reset. */
  let first = "";
  let second = "";
  let fleet: { all: string[]; revoked: string[] };

  const cliDevices = async (status?: string): Promise<string[]> => {
    const args = [
      "registry",
      "devices",
      "--dir",
      fixture.dir,
      "--json",
      ...(status ? ["--status", status] : []),
    ];
    const { stdout } = await reidOk(args);
    return stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => (JSON.parse(line) as { handle: string }).handle);
  };
  const show = (handle: string) => reidJson<Report>(["registry", "show", handle, "--dir", fixture.dir]);

  async function signIn(on: Page): Promise<void> {
    await on.goto(`${origin}/operator/`);
    await on.waitForSelector("#sign-in:not([hidden])");
    await on.fill("#sign-in-token", token);
    await on.click("#sign-in-button");
    await on.waitForSelector("#operator:not([hidden])");
    await on.waitForSelector("#events-state:has-text('connected')");
  }

  before(async () => {
    token = readFileSync(join(fixture.dir, "operator.token"), "utf8").trim();
    origin = `https://127.0.0.1:${fixture.served.port}`;
    first = await enrolledElement(fixture, "element");
    // More devices than a page of the page's fleet (50), a quarter of them revoked.
    fleet = await bulkEnroll(fixture.dir, await registryAuthority(fixture.dir), 70, (i) => i % 4 === 1);
    browser = await launch([`--ignore-certificate-errors-spki-list=${serverKeyPin(fixture.dir)}`]);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
  });

  test("Chromium reaches the registry only through the pin of its server key", async () => {
    const unpinned = await launch();
    try {
      const other = await unpinned.newPage();
      await assert.rejects(other.goto(`${origin}/operator/`), /ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await unpinned.close();
    }
  });

  test("a wrong token is refused: the page stays at sign-in and the API gives nothing", async () => {
    const answer = await page.goto(`${origin}/operator/`);
    const headers = answer?.headers() ?? {};
    assert.match(
      headers["content-security-policy"] ?? "",
      /^default-src 'none'; script-src 'self'; style-src 'self'/,
    );
    assert.equal(headers["x-frame-options"], "DENY");
    await page.waitForSelector("#sign-in:not([hidden])");
    assert.equal(await page.isVisible("#operator"), false);
    await screenshot(page, "operator-00-sign-in-1280");

    await page.fill("#sign-in-token", "A".repeat(43));
    await page.click("#sign-in-button");
    await message(page, /not this registry's operator token/);
    assert.equal(await page.inputValue("#sign-in-token"), "", "the field forgets what was pasted");
    assert.equal(await page.isVisible("#operator"), false);
    const status = await page.evaluate(async () => (await fetch("/operator/api/v1/devices")).status);
    assert.equal(status, 401);
    assert.equal(await page.locator("#fleet li").count(), 0);
  });

  test("signed in with the operator token, the browser holds a session cookie, never the token; the fleet shows", async () => {
    await signIn(page);
    const [cookie, ...others] = await context.cookies();
    assert.equal(others.length, 0);
    assert.equal(cookie?.name, "__Host-reid_operator");
    assert.deepEqual([cookie?.httpOnly, cookie?.secure, cookie?.sameSite], [true, true, "Strict"]);
    assert.ok(cookie && cookie.expires > Date.now() / 1000, "the cookie expires");
    assert.notEqual(cookie?.value, token);
    const kept = await page.evaluate(() => {
      const browser = globalThis as unknown as PageGlobals;
      return [browser.document.cookie, browser.localStorage.length, browser.sessionStorage.length];
    });
    assert.deepEqual(kept, ["", 0, 0]);
    assert.equal(await page.inputValue("#sign-in-token"), "");
    assert.ok(!(await page.content()).includes(token), "the token is not in the document");

    // The first page of the fleet, in the registry's own order.
    const all = await cliDevices();
    assert.equal(all.length, fleet.all.length + 1);
    await page.waitForSelector("#fleet li >> nth=49");
    const shown = await page
      .locator("#fleet li")
      .evaluateAll((items) =>
        items.map((item) => (item as unknown as { dataset: { handle: string } }).dataset.handle),
      );
    assert.deepEqual(shown, all.slice(0, 50));
    assert.equal(await page.isVisible("#fleet-more"), true);
    assert.equal(await page.textContent("#fleet-count"), "50 devices so far");

    // The CSP holds: a script injected inline does not run.
    assert.equal(await inlineScriptRuns(page), false);
    // The light scheme, as this context's system asks.
    const background = await page
      .locator("body")
      .evaluate((body) => (globalThis as unknown as PageGlobals).getComputedStyle(body).backgroundColor);
    assert.equal(background, "rgb(255, 255, 255)");
    await screenshot(page, "operator-01-fleet-1280");
  });

  test("the fleet filters by status and pages on with More", async () => {
    const revoked = await cliDevices("revoked");
    assert.equal(revoked.length, fleet.revoked.length);
    await page.selectOption("#fleet-status", "revoked");
    await page.waitForSelector(`#fleet-count:text-is("${revoked.length} revoked devices")`);
    assert.equal(await page.locator("#fleet li").count(), revoked.length);
    const statuses = await page
      .locator("#fleet li")
      .evaluateAll((items) =>
        items.map((item) => (item as unknown as { dataset: { status: string } }).dataset.status),
      );
    assert.deepEqual(new Set(statuses), new Set(["revoked"]));
    assert.equal(await page.isVisible("#fleet-more"), false);

    await page.selectOption("#fleet-status", "");
    await page.waitForSelector("#fleet-more:not([hidden])");
    await page.click("#fleet-more");
    const all = await cliDevices();
    await page.waitForSelector(`#fleet li >> nth=${all.length - 1}`);
    assert.equal(await page.locator("#fleet li").count(), all.length);
    assert.equal(await page.isVisible("#fleet-more"), false);
    assert.equal(await page.textContent("#fleet-count"), `${all.length} devices`);
  });

  test("after a reset of the enrolled element, its chain is a picture of two identities linked both ways", async () => {
    await reidOk(["--store", join(fixture.root, "element"), "reset"]);
    second = (await reidJson<{ handle: string }>(["--store", join(fixture.root, "element"), "status"]))
      .handle;
    assert.notEqual(second, first);
    const report = await show(first);
    assert.deepEqual(
      report.chain.map((link) => [link.handle, link.status]),
      [
        [first, "superseded"],
        [second, "active"],
      ],
    );
    // The succession reached the page live.
    await page.waitForSelector(`#events li[data-type="succeeded"][data-handle="${second}"]`);

    await page.selectOption("#fleet-status", "superseded");
    await page.click(`#fleet li[data-handle="${first}"] a`);
    const nodes = page.locator("#chain svg a[data-handle]");
    await page.waitForSelector(`#chain svg a[data-handle="${first}"][aria-current="true"]`);
    assert.deepEqual(
      await nodes.evaluateAll((links) =>
        links.map((link) => [link.getAttribute("data-handle"), link.getAttribute("data-status")]),
      ),
      [
        [first, "superseded"],
        [second, "active"],
      ],
    );
    const [old, current] = report.chain;
    const oldText = (await nodes.nth(0).textContent()) ?? "";
    assert.match(oldText, new RegExp(`#1\\s+${first.slice(0, 8)}…`));
    assert.ok(oldText.includes(`enrolled ${old?.enrolledAt}`), oldText);
    assert.ok(oldText.includes(`superseded ${old?.updatedAt}`), oldText);
    const newText = (await nodes.nth(1).textContent()) ?? "";
    assert.ok(newText.includes(`enrolled ${current?.enrolledAt}`) && newText.includes("active now"), newText);
    assert.equal(await page.textContent('#device-facts dd[data-fact="status"]'), "superseded");
    assert.equal(await page.textContent('#device-facts dd[data-fact="chain"]'), "2 identities, this is 1");
    assert.equal(await page.isVisible("#revoke-form"), false, "a superseded identity has nothing to revoke");
    await screenshot(page, "operator-02-chain-1280");

    // Forward to the successor, and back to its predecessor, through the picture.
    await nodes.nth(1).click();
    await page.waitForSelector(`#chain svg a[data-handle="${second}"][aria-current="true"]`);
    assert.equal(await page.textContent('#device-facts dd[data-fact="handle"]'), second);
    await page.locator(`#chain svg a[data-handle="${first}"]`).click();
    await page.waitForSelector(`#chain svg a[data-handle="${first}"][aria-current="true"]`);
    assert.equal(await page.textContent('#device-facts dd[data-fact="handle"]'), first);
  });

  test("revocation asks for the handle typed again; `registry show` sees it, and so does the live panel", async () => {
    await page.locator(`#chain svg a[data-handle="${second}"]`).click();
    await page.waitForSelector("#revoke-form:not([hidden])");
    assert.equal(await page.isDisabled("#revoke-button"), true);
    await page.fill("#revoke-confirm", first);
    assert.equal(await page.isDisabled("#revoke-button"), true, "another handle does not confirm");
    await page.fill("#revoke-confirm", second.slice(0, 31));
    assert.equal(await page.isDisabled("#revoke-button"), true, "nor does most of this one");
    assert.equal((await show(second)).device.status, "active");

    await page.selectOption("#revoke-reason", "cessationOfOperation");
    await page.fill("#revoke-confirm", second);
    assert.equal(await page.isDisabled("#revoke-button"), false);
    await page.click("#revoke-button");
    await message(page, new RegExp(`Revoked ${second} \\(cessationOfOperation\\)`));
    const report = await show(second);
    assert.deepEqual(
      [report.device.status, report.certificate.status, report.certificate.revocationReason],
      ["revoked", "revoked", "cessationOfOperation"],
    );
    await page.waitForSelector('#device-facts dd[data-fact="status"]:has-text("revoked")');
    await page.waitForSelector(`#chain svg a[data-handle="${second}"][data-status="revoked"]`);
    assert.equal(await page.isVisible("#revoke-form"), false);
    await page.waitForSelector(`#events li[data-type="revoked"][data-handle="${second}"]`);
    await screenshot(page, "operator-03-revoked-1280");
  });

  test("an event committed by another process appears on the page as it commits, and redraws the device shown", async () => {
    const target = fleet.all.find((handle) => !fleet.revoked.includes(handle)) as string;
    // The device is shown (the hash alone changes: the same document, its stream open).
    await page.goto(`${origin}/operator/#device=${target}`);
    await page.waitForSelector(`#chain svg a[data-handle="${target}"][data-status="active"]`);
    const before = await page.locator("#events li").count();
    await reidOk(["registry", "revoke", target, "--reason", "privilegeWithdrawn", "--dir", fixture.dir]);
    const item = page.locator(`#events li[data-type="revoked"][data-handle="${target}"]`);
    await item.waitFor();
    assert.match((await item.textContent()) ?? "", /reason=privilegeWithdrawn/);
    assert.equal(
      await page.locator("#events li").first().getAttribute("data-handle"),
      target,
      "newest first",
    );
    assert.ok((await page.locator("#events li").count()) >= Math.min(before + 1, 20));
    assert.ok((await page.locator("#events li").count()) <= 20, "the latest 20 only");
    // The device shown is redrawn from its event, nothing reloaded.
    await page.waitForSelector(`#chain svg a[data-handle="${target}"][data-status="revoked"]`);
    assert.equal(await page.isVisible("#revoke-form"), false);
  });

  test("an enrollment token is made from the page and shown once", async () => {
    await page.fill("#token-label", "line 7");
    await page.selectOption("#token-ttl", "1h");
    await page.click("#token-button");
    await message(page, /Enrollment token created/);
    const issued = (await page.textContent("#token-value")) ?? "";
    assert.match(issued, /^[A-Za-z0-9_-]{43}$/);
    assert.match((await page.textContent("#token-expiry")) ?? "", /label line 7/);
    // The token enrolls an element: it is a real one.
    const handle = await enrolledElement(fixture, "third", "ed25519", { token: issued });
    await page.waitForSelector(`#events li[data-type="enrolled"][data-handle="${handle}"]`);
  });

  test("a state-changing call without the CSRF token, or from another site, is refused and changes nothing", async () => {
    const target = fleet.all.filter((handle) => !fleet.revoked.includes(handle))[5] as string;
    // From the page itself, but without the session's token.
    const refused = await page.evaluate(async (handle) => {
      const reply = await fetch(`/operator/api/v1/devices/${handle}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ reason: "keyCompromise" }),
      });
      return { status: reply.status, body: (await reply.json()) as { error: { code: string } } };
    }, target);
    assert.deepEqual([refused.status, refused.body.error.code], [403, "csrf"]);

    // From another site, as a forged form would (a page on loopback: Chromium lets no public site
    // reach a loopback address at all). The request reaches the registry with that site's Origin
    // and without the cookie (SameSite=Strict), and the device stays as it was.
    const elsewhere = createServer((_request, response) => {
      response.setHeader("content-type", "text/html");
      response.end("<!doctype html><title>elsewhere</title>");
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    const attacker = await context.newPage();
    try {
      const site = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
      await attacker.goto(`${site}/`);
      const failed = attacker.waitForEvent("requestfailed", (request) => request.url().endsWith("/revoke"));
      await attacker.evaluate(
        (url) =>
          fetch(url, {
            method: "POST",
            mode: "no-cors",
            credentials: "include",
            body: JSON.stringify({ reason: "keyCompromise" }),
          }).catch(() => undefined),
        `${origin}/operator/api/v1/devices/${target}/revoke`,
      );
      // It reached the registry, whose answer its Cross-Origin-Resource-Policy keeps from the other site.
      assert.match((await failed).failure()?.errorText ?? "", /ERR_BLOCKED_BY_RESPONSE/);
    } finally {
      await attacker.close();
      elsewhere.close();
    }
    assert.equal((await show(target)).device.status, "active");
  });

  test("at 360 px wide in the dark scheme: no sideways scroll, focus visible", async () => {
    const narrow = await browser.newContext({ viewport: { width: 360, height: 780 }, colorScheme: "dark" });
    try {
      const small = await narrow.newPage();
      small.setDefaultTimeout(15_000);
      await signIn(small);
      await small.waitForSelector("#fleet li");
      const background = await small
        .locator("body")
        .evaluate((body) => (globalThis as unknown as PageGlobals).getComputedStyle(body).backgroundColor);
      assert.equal(background, "rgb(22, 22, 26)", "the page follows the system's dark scheme");
      const fits = () =>
        small.evaluate(() => {
          const root = (globalThis as unknown as PageGlobals).document.documentElement;
          return root.scrollWidth <= root.clientWidth;
        });
      assert.equal(await fits(), true, "the fleet scrolls sideways");
      await screenshot(small, "operator-04-fleet-360");

      await small.goto(`${origin}/operator/#device=${first}`);
      await small.waitForSelector(`#chain svg a[data-handle="${second}"]`);
      assert.equal(await fits(), true, "the device and its chain scroll sideways");
      await screenshot(small, "operator-05-chain-360");

      // The keyboard reaches the chain's nodes, and focus shows.
      const focused = small.locator(`#chain svg a[data-handle="${second}"]`);
      await focused.focus();
      await small.keyboard.press("Shift+Tab");
      await small.keyboard.press("Tab");
      const outline = await focused.evaluate((node) => {
        const style = (globalThis as unknown as PageGlobals).getComputedStyle(node);
        return [style.outlineStyle, style.outlineWidth];
      });
      assert.deepEqual(outline, ["solid", "3px"]);
      await small.locator("#sign-out").focus();
      await small.keyboard.press("Shift+Tab");
      await small.keyboard.press("Tab");
      const button = await small
        .locator("#sign-out")
        .evaluate((node) => (globalThis as unknown as PageGlobals).getComputedStyle(node).outlineStyle);
      assert.equal(button, "solid");
    } finally {
      await narrow.close();
    }
  });

  test("signing out ends the session: the page is back at sign-in and the API answers 401", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])");
    assert.equal(await page.isVisible("#operator"), false);
    assert.equal(await page.locator("#events li").count(), 0);
    const status = await page.evaluate(async () => (await fetch("/operator/api/v1/devices")).status);
    assert.equal(status, 401);
  });
});
