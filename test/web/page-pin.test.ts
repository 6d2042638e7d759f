// Wrong PINs typed on the page (docs/spec.md §2.8, §8): whoever holds a page session (a link, a
// stolen cookie) guesses there, with the page's own back-off, until PIN entry on the page locks.
// The element never locks from the page: the owner's PIN at the terminal works after any number
// of wrong page tries, and nothing the page did shows in the CLI's counter.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { auditLog, PageClient, PIN, type Reply, serveWeb, status, type WebDaemon } from "./helpers.js";

const WRONG = "not the pin 0";

/** Sends `send` until it is answered other than with a back-off, waiting out each back-off named. */
async function waitedOut(send: () => Promise<Reply>): Promise<Reply> {
  for (;;) {
    const reply = await send();
    const wait = /try again in (\d+) s/.exec(reply.json?.error?.message ?? "");
    if (!wait) return reply;
    await new Promise((resolve) => setTimeout(resolve, Number(wait[1]) * 1000 + 100));
  }
}

describe("wrong PINs on the page", () => {
  let dir: string;
  let store: string;
  let pinFile: string;
  let daemon: WebDaemon;
  let recovery: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reid-web-pagepin-"));
    store = join(dir, "store");
    pinFile = join(dir, "pin");
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    const set = await reidJson<{ recoveryCode: string }>([
      "--store",
      store,
      "pin",
      "set",
      "--new-pin-file",
      pinFile,
    ]);
    recovery = set.recoveryCode;
    await reidOk(["--store", store, "--pin-file", pinFile, "init"]);
    daemon = await serveWeb(store);
  });

  after(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("lock PIN entry on the page only: the element stays unlocked and the CLI's PIN works", async () => {
    const guesser = new PageClient(daemon);
    await guesser.open();
    const codes: string[] = [];
    // Sign-in guesses and, from a signed-in session, proof guesses: both are page tries.
    for (let i = 0; i < 4; i++) {
      const reply = await waitedOut(() => guesser.post("/api/sign-in/pin", { pin: WRONG }));
      codes.push(reply.json.error.code);
    }
    const owner = new PageClient(daemon);
    await owner.open();
    const signedIn = await waitedOut(() => owner.post("/api/sign-in/pin", { pin: PIN }));
    assert.equal(signedIn.status, 200, signedIn.text);
    owner.csrf = signedIn.json.csrf;
    // The right PIN on the page starts the page's count afresh; now five wrong ones in a row.
    for (let i = 0; i < 6; i++) {
      const reply = await waitedOut(() =>
        owner.post("/api/requests", { type: "reset", proof: { pin: WRONG } }),
      );
      codes.push(reply.json.error.code);
    }
    assert.deepEqual(codes.slice(0, 4), ["wrong-pin", "wrong-pin", "wrong-pin", "wrong-pin"]);
    assert.deepEqual(codes.slice(4), [
      "wrong-pin",
      "wrong-pin",
      "wrong-pin",
      "wrong-pin",
      "page-locked",
      "page-locked",
    ]);

    const s = await status(store);
    assert.deepEqual(
      s.owner,
      { pin: true, failures: 0, locked: false, passkeysBypassLockout: false, unlockedUntil: null },
      "the page's tries reached the element's counter",
    );
    // The right PIN on the page is refused too, while the terminal's works at once.
    const late = new PageClient(daemon);
    await late.open();
    const refused = await late.post("/api/sign-in/pin", { pin: PIN });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error.code, "page-locked");
    assert.match(refused.json.error.message, /reid pin unlock/);
    await reidOk(["--store", store, "--pin-file", pinFile, "reset"]);
    assert.equal((await status(store)).generation, s.generation + 1);
    const records = await auditLog(store);
    assert.ok(records.some((r) => r.principal === "web:pin" && r.outcome === "page-locked"));
  });

  test("`reid pin unlock` with the recovery code opens PIN entry on the page again", async () => {
    const wrong = join(dir, "wrong-code");
    writeFileSync(wrong, "AAAA-AAAA-AAAA-AAAA-AAAA\n", { mode: 0o600 });
    assertOneLineError(await reid(["--store", store, "pin", "unlock", "--recovery-file", wrong]), 4);
    const locked = new PageClient(daemon);
    await locked.open();
    assert.equal((await locked.post("/api/sign-in/pin", { pin: PIN })).json.error.code, "page-locked");
    const file = join(dir, "recovery");
    writeFileSync(file, `${recovery}\n`, { mode: 0o600 });
    await reidOk(["--store", store, "pin", "unlock", "--recovery-file", file]);
    const client = new PageClient(daemon);
    const reply = await client.signInWithPin(PIN);
    assert.equal(reply.json.signedIn, true);
  });
});
