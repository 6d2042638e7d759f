// The owner's console in real Chromium (Debian's, driven by playwright-core) against a real
// `reid serve --web --device --kek-file`: from the first run (the PIN set on the page, the recovery
// code shown once) through every panel's happy path and its refusals, each checked against the
// element through the CLI; the layout at 1280 and 360 px (screenshots in test-artifacts/page/, no
// sideways scroll), axe-core's accessibility check in the light and dark schemes, an expired
// session, and the daemon stopped and started again under the open page.
import assert from "node:assert/strict";
import { createDecipheriv, createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  auditLog,
  freePort,
  launch,
  PIN,
  serveWeb,
  status,
  virtualAuthenticator,
  type WebDaemon,
} from "./helpers.js";
import { assertAccessible, look, message } from "./page-checks.js";

const RECOVERY = /^[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){4}$/;
const CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

describe("the owner's console in Chromium", () => {
  let dir: string;
  let store: string;
  let user: string;
  let kek: string;
  let listen: string;
  let daemon: WebDaemon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let pinFile: string;
  /** The recovery code in force: the first run's is spent by `reid pin unlock`, which gives this one. */
  let recoveryCode: string;

  const serve = (port?: number) =>
    serveWeb(store, ["--device", "--listen", listen, "--no-mdns"], {
      globals: ["--kek-file", kek],
      ...(port === undefined ? {} : { port }),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reid-web-console-"));
    store = join(dir, "device");
    user = join(dir, "user");
    kek = join(dir, "kek.bin");
    writeFileSync(kek, randomBytes(32), { mode: 0o600 });
    pinFile = join(dir, "pin");
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    // A factory-mode element with no owner PIN yet, its identifier not sealed: the first run.
    await reidOk(["--store", store, "init", "--factory", "puf-sim"]);
    await reidOk(["--store", user, "init"]);
    listen = `127.0.0.1:${await freePort()}`;
    daemon = await serve();
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await virtualAuthenticator(page);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function lastAudit() {
    return (await auditLog(store)).at(-1);
  }

  async function pageText(selector: string): Promise<string> {
    return ((await page.textContent(selector)) ?? "").trim();
  }

  /** The PIN typed into the proof field for the next operation. */
  async function provePin(pin = PIN) {
    await page.check("#proof-kind-pin");
    await page.fill("#proof-pin", pin);
  }

  /** One wrong PIN on the page holds the next try back 1 s (docs/spec.md §2.8): wait it out. */
  async function afterWrongPin() {
    await page.waitForTimeout(1100);
  }

  async function signIn() {
    await page.goto(await daemon.link());
    await page.waitForSelector("#sign-in:not([hidden])");
    await page.fill("#sign-in-pin", PIN);
    await page.click("#pin-sign-in-button");
    await page.waitForSelector("#owner:not([hidden])");
  }

  test("first run: the page sets the PIN, shows the recovery code once and moves on to sign-in without a reload", async () => {
    await page.goto(await daemon.link());
    await page.waitForSelector("#first-run:not([hidden])");
    assert.equal(await page.isVisible("#sign-in"), false);
    // The status is readable before anyone signs in: state, generation, handle, mode.
    const s = await status(store);
    await page.waitForSelector(`#status-handle:has-text("${s.handle}")`);
    assert.equal(await pageText("#status-state"), "set");
    assert.equal(await pageText("#status-generation"), String(s.generation));
    assert.match(await pageText("#status-mode"), /^factory/);
    assert.equal(await page.isVisible("#status-format"), false, "only the public status before sign-in");
    // The handle's fingerprint: its short form and an identicon drawn from its bytes.
    assert.equal(await pageText("#handle-short"), s.handle?.slice(0, 8));
    const mark = page.locator("#identicon svg");
    assert.equal(await mark.getAttribute("aria-label"), `fingerprint of handle ${s.handle?.slice(0, 8)}`);
    assert.ok((await page.locator("#identicon svg rect").count()) >= 1);
    await look(page, "01-first-run");
    await page.evaluate("window.notReloaded = true");

    // Two different PINs: the page refuses before asking the element.
    await page.fill("#new-pin", PIN);
    await page.fill("#new-pin-again", `${PIN}x`);
    await page.click("#pin-set-button");
    await message(page, /differ/);
    // A PIN the element refuses (too short): its own words, nothing set.
    await page.fill("#new-pin", "abc");
    await page.fill("#new-pin-again", "abc");
    await page.click("#pin-set-button");
    await message(page, /6 to 128 characters/);
    assert.equal((await status(store)).owner.pin, false);

    await page.fill("#new-pin", PIN);
    await page.fill("#new-pin-again", PIN);
    await page.click("#pin-set-button");
    await page.waitForSelector("#recovery:not([hidden])");
    const code = await pageText("#recovery-code");
    assert.match(code, RECOVERY);
    assert.equal((await status(store)).owner.pin, true);
    const last = await lastAudit();
    assert.deepEqual([last?.request, last?.principal, last?.outcome], ["pin-set", "web", "ok"]);
    await look(page, "02-recovery-code");

    // "I have written it down": the code leaves the page, and the page moves on to sign-in.
    await page.click("#recovery-done");
    await page.waitForSelector("#sign-in:not([hidden])");
    assert.equal(await page.isVisible("#first-run"), false);
    assert.equal((await page.content()).includes(code), false, "the recovery code is shown once");
    assert.equal(await page.evaluate("window.notReloaded"), true, "no reload");
    // The code works, once: `reid pin unlock` takes it.
    const codeFile = join(dir, "recovery");
    writeFileSync(codeFile, `${code}\n`, { mode: 0o600 });
    const unlocked = await reid(["--store", store, "pin", "unlock", "--recovery-file", codeFile]);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    recoveryCode = /New recovery code[^:]*: (\S+)/.exec(unlocked.stdout)?.[1] as string;
    assert.match(recoveryCode, RECOVERY);
  });

  test("the fingerprint: one handle draws one picture, mirrored left to right; 200 handles draw 200", async () => {
    const handles = Array.from({ length: 200 }, (_, i) =>
      createHash("sha256").update(`handle ${i}`).digest("hex").slice(0, 32),
    );
    const drawn = (await page.evaluate(`(async () => {
      const { identicon } = await import("/identicon.js");
      return ${JSON.stringify(handles)}.map((handle) => {
        const svg = identicon(handle, "fingerprint");
        const [background, ...cells] = svg.querySelectorAll("rect");
        return {
          again: identicon(handle, "fingerprint").outerHTML === svg.outerHTML,
          background: background.getAttribute("fill"),
          cells: cells.map((c) => [Number(c.getAttribute("x")), Number(c.getAttribute("y")), c.getAttribute("fill")]),
        };
      });
    })()`)) as { again: boolean; background: string; cells: [number, number, string][] }[];
    for (const { again, cells } of drawn) {
      assert.equal(again, true);
      const at = new Set(cells.map(([x, y]) => `${x},${y}`));
      for (const [x, y] of cells) assert.ok(at.has(`${4 - x},${y}`), "mirrored left to right");
    }
    const pictures = new Set(drawn.map((d) => JSON.stringify([d.background, d.cells])));
    assert.equal(pictures.size, handles.length);
  });

  test("sign-in: a wrong PIN is refused and counted; the right one opens the console", async () => {
    await page.fill("#sign-in-pin", "not the pin 0000");
    await page.click("#pin-sign-in-button");
    await message(page, /wrong PIN/);
    assert.equal(await page.isVisible("#owner"), false);
    const refused = await lastAudit();
    assert.deepEqual([refused?.request, refused?.outcome], ["web-sign-in", "wrong-pin"]);
    await afterWrongPin();
    await page.fill("#sign-in-pin", PIN);
    await page.click("#pin-sign-in-button");
    await page.waitForSelector("#owner:not([hidden])");
    assert.equal(await pageText("#who"), "signed in with the PIN");
    await page.waitForSelector("#status-format:visible");
    await page.waitForSelector("#events-state:has-text('connected')");
  });

  test("seal: refused without the PIN typed again, then seals under the daemon's key", async () => {
    await page.check("#proof-kind-pin");
    await page.click("#do-seal");
    await message(page, /type the PIN to confirm/);
    assert.equal((await reidJson<{ sealed: boolean }>(["--store", store, "status"])).sealed, false);
    await provePin();
    await page.click("#do-seal");
    await message(page, /sealed/);
    assert.equal((await reidJson<{ sealed: boolean }>(["--store", store, "status"])).sealed, true);
    const last = await lastAudit();
    assert.deepEqual([last?.request, last?.principal, last?.outcome], ["seal", "web:pin", "ok"]);
    await page.waitForSelector("#status-sealed:has-text('yes')");
    assert.equal(await page.isDisabled("#do-seal"), true);
  });

  test("mode: a wrong PIN switches nothing; the right one switches to random, back to factory and to random again", async () => {
    const was = await reidJson<{ mode: string; generation: number }>(["--store", store, "status"]);
    assert.equal(was.mode, "factory");
    const to = "random";
    const back = "factory";
    await provePin("not the pin 0000");
    await page.click(`#mode-${to}`);
    await message(page, /wrong PIN/);
    assert.equal((await reidJson<{ mode: string }>(["--store", store, "status"])).mode, was.mode);
    await afterWrongPin();

    await provePin();
    await page.click(`#mode-${to}`);
    await message(page, new RegExp(`Switched to ${to} mode`));
    const switched = await reidJson<{ mode: string; generation: number }>(["--store", store, "status"]);
    assert.equal(switched.mode, to);
    assert.equal(switched.generation, was.generation + 1);
    await page.waitForSelector(`#status-mode:has-text("${to}")`);
    assert.equal(await page.isDisabled(`#mode-${to}`), true);

    await provePin();
    await page.click(`#mode-${back}`);
    await message(page, new RegExp(`Switched to ${back} mode`));
    assert.equal((await reidJson<{ mode: string }>(["--store", store, "status"])).mode, back);
    assert.deepEqual(
      (await auditLog(store)).slice(-3).map((r) => [r.request, r.outcome]),
      [
        [`mode-${to}`, "wrong-pin"],
        [`mode-${to}`, "ok"],
        [`mode-${back}`, "ok"],
      ],
    );
    // Random from here on: the requests below are refused in factory mode.
    await provePin();
    await page.click("#mode-random");
    await message(page, /Switched to random mode/);
    await page.waitForSelector("#mode-random:disabled");
  });

  test("requests: reset; erase only with the typed confirmation; init again", async () => {
    const was = await status(store);
    await provePin();
    await page.click("#do-reset");
    await message(page, /reset done/);
    const reset = await status(store);
    assert.equal(reset.generation, was.generation + 1);
    await page.waitForSelector(`#handle-short:has-text("${reset.handle?.slice(0, 8)}")`);

    // No confirmation: nothing is asked of the element, the PIN stays in its field.
    await provePin();
    await page.click("#do-erase");
    await message(page, /To erase, type [0-9a-f]{8}/);
    assert.equal(await page.inputValue("#proof-pin"), PIN);
    // A wrong one, sent anyway (as a page that skipped its own check would): the element is not
    // asked, nothing is counted or recorded.
    const audited = (await auditLog(store)).length;
    const forged = (await page.evaluate(`(async () => {
      const session = await (await fetch("/api/session")).json();
      const reply = await fetch("/api/requests", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
        body: JSON.stringify({ type: "erase", confirm: "erase", proof: { pin: ${JSON.stringify(PIN)} } }),
      });
      return { status: reply.status, body: await reply.json() };
    })()`)) as { status: number; body: { error: { code: string } } };
    assert.equal(forged.status, 400);
    assert.equal(forged.body.error.code, "confirmation-required");
    assert.equal((await auditLog(store)).length, audited);
    assert.equal((await status(store)).state, "set");

    await page.fill("#erase-confirm", reset.handle?.slice(0, 8) ?? "");
    await provePin();
    await page.click("#do-erase");
    await message(page, /erase done/);
    const erased = await status(store);
    assert.equal(erased.state, "blank");
    assert.equal(erased.handle, null);
    await page.waitForSelector("#device", { state: "hidden" });
    await page.waitForSelector("#erase-expected:has-text('erase')");

    await provePin();
    await page.click("#do-init");
    await message(page, /init done/);
    const init = await status(store);
    assert.equal(init.state, "set");
    assert.deepEqual(
      (await auditLog(store)).slice(-3).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["reset", "web:pin", "ok"],
        ["erase", "web:pin", "ok"],
        ["init", "web:pin", "ok"],
      ],
    );
  });

  test("schedule: listed when added, cancelled only with the PIN typed again", async () => {
    const local = (await page.evaluate(`(() => {
      const d = new Date(Date.now() + 24 * 3600_000);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    })()`)) as string;
    await provePin();
    await page.selectOption("#schedule-type", "reset");
    await page.fill("#schedule-at", local);
    await page.click("#schedule-button");
    await message(page, /Scheduled reset at/);
    const [entry] = (await status(store)).scheduled;
    assert.equal(entry?.type, "reset");
    const cancel = `#scheduled li[data-id="${entry?.id}"] button.cancel`;
    await page.waitForSelector(cancel);
    await page.click(cancel);
    await message(page, /type the PIN to confirm/);
    assert.equal((await status(store)).scheduled.length, 1);
    await provePin();
    await page.click(cancel);
    await message(page, /Cancelled the reset/);
    assert.deepEqual((await status(store)).scheduled, []);
  });

  test("pairing and bindings: a user binds with the page's code, is listed, and is unbound only with the PIN", async () => {
    await page.waitForSelector("#pair-button:not([disabled])");
    await provePin();
    await page.click("#pair-button");
    await page.waitForSelector("#pairing-open:not([hidden])");
    const code = await pageText("#pairing-code");
    assert.match(code, CODE);
    const handle = (await status(store)).handle as string;
    const codeFile = join(dir, "code");
    writeFileSync(codeFile, `${code}\n`, { mode: 0o600 });
    await reidOk(["--store", user, "bind", listen, "--expect-handle", handle, "--code-file", codeFile]);
    const userHandle = (await status(user)).handle as string;

    await page.click("#bindings-reload");
    const row = `#bound-users li[data-handle="${userHandle}"]`;
    await page.waitForSelector(row);
    assert.match(await pageText(row), new RegExp(userHandle.slice(0, 8)));
    assert.equal(await page.locator(`${row} svg[role="img"]`).count(), 1);
    await look(page, "03-console");

    await provePin("not the pin 0000");
    await page.click(`${row} button`);
    await message(page, /wrong PIN/);
    assert.equal(
      (await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"])).bindings.length,
      1,
    );
    await afterWrongPin();
    await provePin();
    await page.click(`${row} button`);
    await message(page, new RegExp(`Unbound ${userHandle.slice(0, 8)}`));
    await page.waitForSelector(row, { state: "detached" });
    assert.deepEqual((await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"])).bindings, []);
    const last = await lastAudit();
    assert.deepEqual([last?.request, last?.principal, last?.outcome], ["unbind", "web:pin", "ok"]);
  });

  test("bindings, the device side: this element, bound as a user to another device, lists it, commands it and reads its telemetry with a proof each, and unbinds it only with the PIN", async () => {
    // The other store serves a device role of its own; this element binds to it from the terminal.
    const deviceListen = `127.0.0.1:${await freePort()}`;
    const device = await serveWeb(user, ["--device", "--listen", deviceListen, "--no-mdns"]);
    try {
      const opened = await reidJson<{ code: string }>(["--store", user, "pair"]);
      const deviceHandle = (await status(user)).handle as string;
      // Bound from the page, as `reid bind` binds: the setup code's form first, then the proof.
      await page.fill("#bind-address", deviceListen);
      await page.fill("#bind-handle", deviceHandle);
      await page.fill("#bind-code", "not a code");
      await provePin();
      await page.click("#bind-button");
      await message(page, /a setup code is 10 letters and digits/);
      assert.equal(await page.inputValue("#bind-code"), "", "the setup code leaves its field");
      await page.check("#proof-kind-pin");
      await page.fill("#bind-code", opened.code);
      await page.click("#bind-button");
      await message(page, /type the PIN to confirm/);
      await page.fill("#bind-code", opened.code);
      await provePin();
      await page.click("#bind-button");
      await message(page, new RegExp(`Bound to device ${deviceHandle.slice(0, 8)} at ${deviceListen}`));
      const bound = await lastAudit();
      assert.deepEqual([bound?.request, bound?.principal, bound?.outcome], ["bind", "web:pin", "ok"]);
      assert.equal((await page.content()).includes(opened.code), false, "the setup code is not kept");
      await page.click("#bindings-reload");
      const row = `#bound-devices li[data-handle="${deviceHandle}"]`;
      await page.waitForSelector(row);
      assert.match(
        await pageText(row),
        new RegExp(`^${deviceHandle.slice(0, 8)} at ${deviceListen}, bound `),
      );
      assert.equal(await page.locator(`${row} svg[role="img"]`).count(), 1);
      assert.equal(await pageText("#bound-users"), "no user is bound");
      // The device lists this element among its users.
      const ours = (await status(store)).handle as string;
      const usersOfDevice = async () =>
        (
          await reidJson<{ bindings: { role: string; handle: string }[] }>(["--store", user, "bindings"])
        ).bindings
          .filter((b) => b.role === "user")
          .map((b) => b.handle);
      assert.deepEqual(await usersOfDevice(), [ours]);

      // The user role from the page: a command, and the device's telemetry, each with its proof.
      await page.waitForSelector("#device-form:visible");
      assert.equal(await page.inputValue("#device-target"), deviceHandle);
      await page.check("#proof-kind-pin");
      await page.fill("#command-name", "blink");
      await page.fill("#command-args", "twice fast");
      await page.click("#command-send");
      await message(page, /type the PIN to confirm/);
      await provePin("not the pin 0000");
      await page.click("#command-send");
      await message(page, /wrong PIN/);
      await afterWrongPin();
      await provePin();
      await page.click("#command-send");
      await message(
        page,
        new RegExp(`Device ${deviceHandle.slice(0, 8)} accepted 'blink' \\(command \\d+\\)`),
      );
      assert.deepEqual(
        (await auditLog(store)).slice(-2).map((r) => [r.request, r.principal, r.outcome]),
        [
          ["command:blink", "web:pin", "wrong-pin"],
          ["command:blink", "web:pin", "ok"],
        ],
      );
      await page.fill("#telemetry-count", "3");
      await provePin();
      await page.click("#telemetry-read");
      await message(page, new RegExp(`readings? from ${deviceHandle.slice(0, 8)}`));
      const readings = await page.locator("#telemetry li").allTextContents();
      assert.ok(readings.length >= 1 && readings.length <= 3, readings.join("; "));
      for (const reading of readings) assert.match(reading, /^\d{4}-\d\d-\d\dT\S+ \S+ \S+$/);
      assert.deepEqual(
        [(await lastAudit())?.request, (await lastAudit())?.principal],
        ["telemetry", "web:pin"],
      );
      await look(page, "11-device-bound");
      // The unlock window is for the owner's scripts on the socket: the page still needs a proof.
      await reidOk(["--store", store, "--pin-file", pinFile, "unlock", "--for", "1m"]);
      const unproved = (await page.evaluate(`(async () => {
        const session = await (await fetch("/api/session")).json();
        const reply = await fetch("/api/bindings/${deviceHandle}/telemetry", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
          body: JSON.stringify({}),
        });
        return { status: reply.status, body: await reply.json() };
      })()`)) as { status: number; body: { error: { code: string } } };
      assert.deepEqual([unproved.status, unproved.body.error.code], [403, "proof-required"]);
      await reidOk(["--store", store, "lock"]);

      await page.click(`${row} button`);
      await message(page, /type the PIN to confirm/);
      await page.waitForSelector(row);
      await provePin();
      await page.click(`${row} button`);
      await message(page, new RegExp(`Unbound ${deviceHandle.slice(0, 8)}`));
      await page.waitForSelector(row, { state: "detached" });
      assert.equal(await pageText("#bound-devices"), "bound to no device");
      await page.waitForSelector("#device-form", { state: "hidden" });
      assert.deepEqual(
        (await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"])).bindings,
        [],
      );
      // The device was told: its side of the binding is gone too.
      assert.deepEqual(await usersOfDevice(), []);
      const last = await lastAudit();
      assert.deepEqual([last?.request, last?.principal, last?.outcome], ["unbind", "web:pin", "ok"]);
    } finally {
      await device.stop();
    }
  });

  test("keys and certificate: PEM downloads that match `reid keys --pem` and the element's key", async () => {
    await page.waitForSelector("#keys li[data-alg='ed25519'] a");
    const saved = page.waitForEvent("download");
    await page.click("#keys li[data-alg='ed25519'] a");
    const download = await saved;
    const handle = (await status(store)).handle as string;
    assert.equal(download.suggestedFilename(), `reid-${handle.slice(0, 8)}-ed25519.pem`);
    const pem = readFileSync((await download.path()) as string, "utf8");
    const cli = (await reidOk(["--store", store, "keys", "--pem", "--alg", "ed25519"])).stdout;
    assert.equal(pem, cli);

    await page.selectOption("#cert-algorithm", "p256");
    await page.fill("#cert-days", "30");
    const certSaved = page.waitForEvent("download");
    await page.click("#cert-download");
    const certificate = new X509Certificate(readFileSync((await (await certSaved).path()) as string));
    const p256 = (await reidOk(["--store", store, "keys", "--pem", "--alg", "p256"])).stdout;
    assert.equal(certificate.publicKey.export({ type: "spki", format: "pem" }), p256);
    const days = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 30) <= 1, `valid for ${days} days`);

    // A key file that is not one, or days out of range: refused, nothing saved.
    const refused = (await page.evaluate(`Promise.all([
      fetch("/api/keys/rsa.pem").then((r) => r.status),
      fetch("/api/certificate?days=0").then((r) => r.status),
    ])`)) as number[];
    assert.deepEqual(refused, [400, 400]);
  });

  test("unlock window: only with a proof; the header and status say until when; Lock closes it, and a window that ends leaves the page by itself", async () => {
    await page.waitForSelector("#unlock-state[data-open='false']");
    assert.equal(await page.isDisabled("#lock-button"), true);
    assert.equal(await page.isVisible("#unlocked-badge"), false);
    // The choices are the CLI's bounds: 1 minute to 12 hours, 15 minutes by default.
    const choices = await page.$$eval("#unlock-seconds option", (options) =>
      options.map((o) => Number((o as unknown as { value: string }).value)),
    );
    assert.equal(Math.max(...choices), 12 * 3600);
    assert.equal(await page.inputValue("#unlock-seconds"), "900");

    await page.check("#proof-kind-pin");
    await page.click("#unlock-button");
    await message(page, /type the PIN to confirm/);
    await provePin("not the pin 0000");
    await page.click("#unlock-button");
    await message(page, /wrong PIN/);
    assert.equal((await status(store)).owner.unlockedUntil, null);
    await afterWrongPin();

    await page.selectOption("#unlock-seconds", "3600");
    await provePin();
    await page.click("#unlock-button");
    await message(page, /Unlocked until/);
    const until = (await status(store)).owner.unlockedUntil as string;
    const left = Date.parse(until) - Date.now();
    assert.ok(left > 3000_000 && left <= 3600_000, `the window ends in ${left} ms`);
    await page.waitForSelector("#unlocked-badge:visible");
    assert.match(await pageText("#unlocked-badge"), /^unlocked until /);
    assert.equal(await pageText("#status-unlocked"), `open until ${until}`);
    assert.equal(await page.isDisabled("#lock-button"), false);
    const opened = await lastAudit();
    assert.deepEqual([opened?.request, opened?.principal, opened?.outcome], ["unlock", "web:pin", "ok"]);
    await look(page, "07-unlocked");

    // Lock needs no proof: closing a window only takes away.
    await page.click("#lock-button");
    await message(page, /Locked: the unlock window is closed/);
    await page.waitForSelector("#unlocked-badge", { state: "hidden" });
    assert.equal((await status(store)).owner.unlockedUntil, null);
    assert.equal((await lastAudit())?.request, "lock");

    // A short window (as `reid unlock --for 2s` opens one): the page takes it off when it ends.
    await page.evaluate(`(() => {
      const option = document.createElement("option");
      option.value = "2";
      option.textContent = "2 seconds";
      document.getElementById("unlock-seconds").append(option);
    })()`);
    await page.selectOption("#unlock-seconds", "2");
    await provePin();
    await page.click("#unlock-button");
    await page.waitForSelector("#unlocked-badge:visible");
    await page.waitForSelector("#unlocked-badge", { state: "hidden" });
    await page.waitForSelector("#unlock-state[data-open='false']");
    assert.equal(await pageText("#status-unlocked"), "closed");
    assert.equal((await status(store)).owner.unlockedUntil, null);
    await page.selectOption("#unlock-seconds", "900");
  });

  test("PIN change: the present PIN proves it, a wrong one changes nothing; the recovery code unlocks and is replaced, shown once", async () => {
    const other = "another pin 456";
    await page.fill("#pin-change-new", other);
    await page.fill("#pin-change-again", other);
    await page.click("#pin-change-button");
    await message(page, /type the present PIN/);
    await page.fill("#pin-change-present", PIN);
    await page.fill("#pin-change-new", other);
    await page.fill("#pin-change-again", `${other}x`);
    await page.click("#pin-change-button");
    await message(page, /two new PINs differ/);
    assert.equal(await page.inputValue("#pin-change-present"), "", "the PIN leaves its field");
    await page.fill("#pin-change-present", "not the pin 0000");
    await page.fill("#pin-change-new", other);
    await page.fill("#pin-change-again", other);
    await page.click("#pin-change-button");
    await message(page, /wrong PIN/);
    await afterWrongPin();

    await page.fill("#pin-change-present", PIN);
    await page.fill("#pin-change-new", other);
    await page.fill("#pin-change-again", other);
    await page.click("#pin-change-button");
    await message(page, /^PIN changed\.$/);
    // The old PIN proves nothing now, on the page or at the terminal; the new one does.
    const old = await reid(["--store", store, "--pin-file", pinFile, "pair"]);
    assert.equal(old.code, 4, old.stderr);
    // The same words will say the next change is done: the last ones leave first.
    await page.evaluate("document.getElementById('message').textContent = ''");
    await page.fill("#pin-change-present", other);
    await page.fill("#pin-change-new", PIN);
    await page.fill("#pin-change-again", PIN);
    await page.click("#pin-change-button");
    await message(page, /^PIN changed\.$/);

    // The recovery code, as `reid pin unlock` takes it: a wrong one is refused.
    await page.waitForSelector("#recovery-unlock:visible");
    await page.fill("#recovery-unlock-code", "AAAA-BBBB-CCCC-DDDD-EEEE");
    await page.click("#recovery-unlock-button");
    await message(page, /wrong recovery code/);
    // A refusal's record is written durably, and with it the outcomes before it.
    assert.deepEqual(
      (await auditLog(store)).slice(-5).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["pin-change", "web:pin", "wrong-pin"],
        ["pin-change", "web:pin", "ok"],
        ["pair", "cli", "wrong-pin"],
        ["pin-change", "web:pin", "ok"],
        ["pin-unlock", "web:pin", "wrong-recovery-code"],
      ],
    );
    await page.fill("#recovery-unlock-code", recoveryCode);
    await page.click("#recovery-unlock-button");
    await message(page, /Unlocked with the recovery code/);
    await page.waitForSelector("#new-recovery:visible");
    const fresh = await pageText("#new-recovery-code");
    assert.match(fresh, RECOVERY);
    assert.notEqual(fresh, recoveryCode);
    assert.equal((await lastAudit())?.request, "pin-unlock");
    await page.click("#new-recovery-done");
    assert.equal((await page.content()).includes(fresh), false, "the new code is shown once");
    // The old code is spent; the one the page showed works.
    const codeFile = join(dir, "recovery");
    writeFileSync(codeFile, `${recoveryCode}\n`, { mode: 0o600 });
    assert.equal((await reid(["--store", store, "pin", "unlock", "--recovery-file", codeFile])).code, 4);
    writeFileSync(codeFile, `${fresh}\n`, { mode: 0o600 });
    const unlocked = await reidOk(["--store", store, "pin", "unlock", "--recovery-file", codeFile]);
    recoveryCode = /New recovery code[^:]*: (\S+)/.exec(unlocked.stdout)?.[1] as string;
  });

  test("settings: single-type and passkeys-bypass-lockout, each changed only with a proof, as `reid config` shows", async () => {
    const config = () => reidJson<Record<string, unknown>>(["--store", store, "config"]);
    await page.waitForSelector("#config-single-type:has-text('off')");
    assert.equal(await pageText("#config-passkeys-bypass-lockout"), "off");
    assert.equal(await pageText("#config-format"), (await config()).format);
    await page.check("#proof-kind-pin");
    await page.click("#config-single-type-toggle");
    await message(page, /type the PIN to confirm/);
    assert.equal((await config())["single-type"], false);

    for (const [setting, to] of [
      ["single-type", "on"],
      ["single-type", "off"],
      ["passkeys-bypass-lockout", "on"],
      ["passkeys-bypass-lockout", "off"],
    ] as const) {
      await provePin();
      await page.click(`#config-${setting}-toggle`);
      await message(page, new RegExp(`${setting} is ${to}`));
      assert.equal((await config())[setting], to === "on");
      await page.waitForSelector(`#config-${setting}:has-text('${to}')`);
      const last = await lastAudit();
      assert.deepEqual(
        [last?.request, last?.principal, last?.outcome],
        [`${setting}-${to}`, "web:pin", "ok"],
      );
      if (setting === "single-type" && to === "on") {
        await page.waitForSelector("#status-mode:has-text('single-type')");
        await look(page, "08-settings");
      }
    }
  });

  test("sign and verify, a message typed or a file chosen: the signature downloads and `reid verify` takes it; the CSR is `reid csr`'s", async () => {
    await page.click("#sign-button");
    await message(page, /type a message or choose a file/);

    const text = "hello from the page";
    await page.fill("#sign-text", text);
    await page.selectOption("#sign-algorithm", "p256");
    await page.click("#sign-button");
    await message(page, /Signed with the p256 key/);
    const saved = page.waitForEvent("download");
    await page.click("#signature-download");
    const download = await saved;
    const handle = (await status(store)).handle as string;
    assert.equal(download.suggestedFilename(), `reid-${handle.slice(0, 8)}-p256.sig`);
    const sigPath = join(dir, "page.sig");
    await download.saveAs(sigPath);
    assert.equal(readFileSync(sigPath).toString("hex"), await pageText("#signature-hex"));
    const messagePath = join(dir, "typed.txt");
    writeFileSync(messagePath, text);
    // `reid verify` tells P-256 from the signature's form: no --alg.
    const verified = await reidOk(["--store", store, "verify", messagePath, sigPath]);
    assert.match(verified.stdout, /signature verifies: .*p256/);

    // The page's verify: the same file back, then another message under it.
    await page.setInputFiles("#verify-file", sigPath);
    await page.click("#verify-button");
    await page.waitForSelector("#verify-result[data-valid='true']");
    assert.equal(await pageText("#verify-result"), `signature verifies: handle ${handle}, p256`);
    await page.fill("#sign-text", `${text}!`);
    await page.click("#verify-button");
    await page.waitForSelector("#verify-result[data-valid='false']");
    assert.match(await pageText("#verify-result"), /does NOT verify .*\(p256\)/);

    // A file chosen (bytes, not text), signed with Ed25519; `reid sign`'s hex verifies on the page.
    const binary = join(dir, "firmware.bin");
    writeFileSync(binary, randomBytes(4096));
    await page.setInputFiles("#sign-file", binary);
    await page.selectOption("#sign-algorithm", "ed25519");
    await page.click("#sign-button");
    await message(page, /Signed with the ed25519 key/);
    const pageSig = await pageText("#signature-hex");
    const cliSig = (await reidOk(["--store", store, "sign", binary])).stdout.trim();
    assert.equal(pageSig, cliSig, "Ed25519 is deterministic: the page's signature is the CLI's");
    await page.setInputFiles("#verify-file", []);
    await page.fill("#verify-hex", cliSig);
    await page.click("#verify-button");
    await page.waitForSelector("#verify-result[data-valid='true']");
    assert.equal(await pageText("#verify-result"), `signature verifies: handle ${handle}, ed25519`);
    await look(page, "09-signed");
    await page.setInputFiles("#sign-file", []);

    // The CSR with a subject: Ed25519 requests are deterministic, so it is `reid csr`'s exactly.
    await page.fill("#csr-subject", "CN=sensor-7, O=Acme");
    await page.selectOption("#sign-algorithm", "ed25519");
    const csrSaved = page.waitForEvent("download");
    await page.click("#csr-download");
    const csr = readFileSync((await (await csrSaved).path()) as string, "utf8");
    const cli = await reidOk(["--store", store, "csr", "--subject", "CN=sensor-7, O=Acme"]);
    assert.equal(csr.trimEnd(), cli.stdout.trimEnd());
    assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  });

  test("export: the identifier wrapped under the key file chosen, as `reid export` gives it, only with a proof; never in clear", async () => {
    await page.click("#export-button");
    await message(page, /choose the wrap key file/);
    const shortKey = join(dir, "short.key");
    writeFileSync(shortKey, randomBytes(31), { mode: 0o600 });
    await page.setInputFiles("#export-key", shortKey);
    await page.click("#export-button");
    await message(page, /exactly 32 bytes; it has 31/);

    const key = randomBytes(32);
    const keyFile = join(dir, "wrap.key");
    writeFileSync(keyFile, key, { mode: 0o600 });
    await page.check("#proof-kind-pin");
    await page.setInputFiles("#export-key", keyFile);
    const audited = (await auditLog(store)).length;
    await page.click("#export-button");
    await message(page, /type the PIN to confirm/);
    assert.equal(await page.inputValue("#export-key"), "", "the key file leaves the form");
    assert.equal((await auditLog(store)).length, audited, "nothing was asked of the element");

    await provePin();
    await page.setInputFiles("#export-key", keyFile);
    await page.click("#export-button");
    await message(page, /Exported, wrapped under your key/);
    const wrapped = await pageText("#exported-hex");
    const cli = (
      await reidOk(["--store", store, "--pin-file", pinFile, "export", "--wrap-key", keyFile])
    ).stdout.trim();
    assert.equal(wrapped, cli);
    const saved = page.waitForEvent("download");
    await page.click("#exported-download");
    assert.equal(readFileSync((await (await saved).path()) as string, "utf8"), `${cli}\n`);
    assert.deepEqual(
      (await auditLog(store)).slice(audited).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["export", "web:pin", "ok"],
        ["export", "cli", "ok"],
      ],
    );
    // Unwrapped here (RFC 5649): neither the identifier nor the key is anywhere on the page.
    const unwrap = createDecipheriv("id-aes256-wrap-pad", key, Buffer.from("A65959A6", "hex"));
    const identifier = Buffer.concat([unwrap.update(Buffer.from(cli, "hex")), unwrap.final()]);
    const content = await page.content();
    for (const secret of [identifier.toString("hex"), key.toString("hex")]) {
      assert.equal(content.toLowerCase().includes(secret), false);
    }
    await look(page, "10-exported");
  });

  test("audit log: the newest records, newest first, with the verdict of `reid log --verify`", async () => {
    await page.click("#audit-reload");
    await page.waitForSelector("#audit-verdict:has-text('intact')");
    const verify = await reid(["--store", store, "log", "--verify"]);
    assert.equal(verify.code, 0, verify.stderr);
    const last = await lastAudit();
    const first = page.locator("#audit li").first();
    assert.equal(await first.getAttribute("data-request"), last?.request);
    assert.match((await first.textContent()) ?? "", new RegExp(`^#${last?.seq} `));
    assert.equal(await page.getAttribute("#audit-verdict", "data-intact"), "true");
  });

  test("passkeys: a name is required; the header and the lists name it, never its credential id", async () => {
    await page.fill("#register-pin", PIN);
    await page.click("#register-passkey");
    await message(page, /give the passkey a name/);
    assert.equal(await page.inputValue("#register-pin"), "");

    await page.fill("#register-name", "laptop");
    await page.fill("#register-pin", PIN);
    await page.click("#register-passkey");
    await message(page, /Passkey “laptop” registered/);
    const [passkey] = (
      JSON.parse(readFileSync(join(store, "passkeys.json"), "utf8")) as {
        passkeys: { id: string; name: string }[];
      }
    ).passkeys;
    assert.equal(passkey?.name, "laptop");
    const id = passkey?.id as string;
    await page.waitForSelector(`#passkeys li[data-id="${id}"]:has-text("laptop")`);

    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])");
    await page.click("#passkey-sign-in");
    await page.waitForSelector("#owner:not([hidden])");
    assert.equal(await pageText("#who"), "signed in with passkey “laptop”");
    await page.click("#audit-reload");
    await page.waitForSelector("#audit li:has-text('web-sign-in by passkey “laptop”')");
    for (const selector of ["header", "#audit", "#passkeys"]) {
      assert.equal((await pageText(selector)).includes(id), false, `${selector} shows the credential id`);
    }
    await look(page, "04-passkey-signed-in");

    // Removed with a fresh passkey assertion.
    await page.check("#proof-kind-passkey");
    await page.click(`#passkeys li[data-id="${id}"] button`);
    await message(page, /Passkey “laptop” removed/);
    const last = await lastAudit();
    assert.deepEqual(
      [last?.request, last?.principal, last?.outcome],
      ["passkey-remove", `web:passkey:${id}`, "ok"],
    );
  });

  test("live events: a reset from the terminal shows up as it happens", async () => {
    const was = await status(store);
    await reidOk(["--store", store, "--pin-file", pinFile, "reset"]);
    await page.waitForSelector(`#events li[data-request="reset"][data-generation="${was.generation + 1}"]`);
    await page.waitForSelector(`#status-generation:has-text("${was.generation + 1}")`);
  });

  test("the dark scheme follows the system and passes the same checks", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    try {
      const background = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor");
      assert.equal(background, "rgb(17, 19, 23)");
      await look(page, "05-dark");
    } finally {
      await page.emulateMedia({ colorScheme: "light" });
    }
    // The focus ring shows on a keyboard's focus.
    await page.focus("#do-reset");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Shift+Tab");
    const outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle");
    assert.equal(outline, "solid");
  });

  test("an expired session: the next action says to open a new link, and the console closes", async () => {
    await context.addCookies([
      { name: "reid_session", value: "A".repeat(43), url: daemon.origin, httpOnly: true, sameSite: "Strict" },
    ]);
    await page.click("#audit-reload");
    await message(page, /open the link from `reid page`/);
    for (const id of ["#owner", "#status-panel", "#sign-out"]) assert.equal(await page.isVisible(id), false);
    await assertAccessible(page, "the ended session");
  });

  test("the daemon stopped: the page says so in words and greys out; started again, it reconnects by itself", async () => {
    await signIn();
    await page.waitForSelector("#events-state:has-text('connected')");
    const port = daemon.port;
    await daemon.stop();
    await page.waitForSelector("#connection:not([hidden])");
    const words = await pageText("#connection");
    assert.match(words, /daemon is not answering/);
    assert.doesNotMatch(words, /TypeError|Failed to fetch/);
    assert.equal(await page.evaluate("document.getElementById('controls').disabled"), true);
    assert.equal(await page.evaluate("document.querySelector('main').inert"), true);
    assert.equal(await page.isDisabled("#do-reset"), true);
    assert.doesNotMatch(await pageText("#message"), /TypeError|Failed to fetch/);
    await look(page, "06-daemon-stopped");

    daemon = await serve(port);
    await page.waitForSelector("#connection", { state: "hidden" });
    assert.equal(await page.evaluate("document.getElementById('controls').disabled"), false);
    // A restart signs everyone out (sessions live in the daemon's memory): the page says what to do.
    await message(page, /restart ended this session.*reid page/);
    await signIn();
    assert.equal(await pageText("#status-state"), "set");
  });
});
