// The page's own PIN count (docs/spec.md §2.8), in-process with an injected clock: PINs typed on
// the page back off and lock as the terminal's do, but on a count of their own, so that whoever
// reaches the page locks PIN entry on the page at most, never the element.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import type { Credentials } from "../../src/auth/actor.js";
import { MAX_FAILURES, OwnerPin } from "../../src/auth/owner-pin.js";
import { ReidError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const PIN = "correct horse 42";
const WRONG = "wrong pin 0000";
const onPage = (pin: string): Credentials => ({ pin, tries: "page" });
const atTerminal = (pin: string): Credentials => ({ pin });

function fixture(t: TestContext) {
  const { dir } = tempDir(t, "reid-page-tries-");
  let now = Date.UTC(2026, 5, 1, 12, 0, 0);
  const owner = new OwnerPin(dir, () => new Date(now));
  return {
    owner,
    state: () => JSON.parse(readFileSync(join(dir, "owner.json"), "utf8")) as Record<string, unknown>,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ReidError, String(error));
    return error.code;
  }
  return "ok";
}

/** Wrong PINs on `credentials`' count, each after its back-off: the refusal codes. */
async function wrongTries(f: ReturnType<typeof fixture>, credentials: Credentials, n: number) {
  const codes: string[] = [];
  for (let i = 0; i < n; i++) {
    codes.push(await code(f.owner.authorize(credentials)));
    f.advance(60_000);
  }
  return codes;
}

describe("owner PIN: the page's own count", () => {
  it("five wrong PINs on the page lock the page only; the terminal's PIN still opens the element", async (t) => {
    const f = fixture(t);
    await f.owner.set(PIN, undefined);
    const codes = await wrongTries(f, onPage(WRONG), MAX_FAILURES + 2);
    assert.deepEqual(codes, [
      ...Array(MAX_FAILURES - 1).fill("wrong-pin"),
      "page-locked",
      "page-locked",
      "page-locked",
    ]);
    assert.equal(await code(f.owner.authorize(onPage(PIN))), "page-locked");
    assert.deepEqual(f.owner.summary(), { set: true, failures: 0, locked: false });
    assert.equal(await code(f.owner.authorize(atTerminal(PIN))), "ok");
  });

  it("the page backs off as the terminal does, on its own clock", async (t) => {
    const f = fixture(t);
    await f.owner.set(PIN, undefined);
    assert.equal(await code(f.owner.authorize(onPage(WRONG))), "wrong-pin");
    assert.equal(await code(f.owner.authorize(onPage(PIN))), "pin-backoff");
    // The terminal is not held back by the page's wrong PIN.
    assert.equal(await code(f.owner.authorize(atTerminal(PIN))), "ok");
    f.advance(1000);
    assert.equal(await code(f.owner.authorize(onPage(PIN))), "ok");
    assert.deepEqual(f.state().page, { failures: 0, lastFailure: null });
  });

  it("a locked element takes no PIN from the page either; the recovery code clears both counts", async (t) => {
    const f = fixture(t);
    const recovery = (await f.owner.set(PIN, undefined)) as string;
    await wrongTries(f, onPage(WRONG), MAX_FAILURES);
    await wrongTries(f, atTerminal(WRONG), MAX_FAILURES);
    assert.equal(f.owner.summary().locked, true);
    assert.equal(await code(f.owner.authorize(onPage(PIN))), "locked");
    await f.owner.unlock(recovery);
    assert.equal(f.state().page, undefined);
    assert.equal(await code(f.owner.authorize(onPage(PIN))), "ok");
    assert.equal(await code(f.owner.authorize(atTerminal(PIN))), "ok");
  });

  it("a try on the page is counted before it is checked, as the terminal's is", async (t) => {
    const f = fixture(t);
    await f.owner.set(PIN, undefined);
    const checking = f.owner.authorize(onPage(WRONG));
    // Written synchronously, before argon2id even starts.
    assert.equal((f.state().page as { failures: number }).failures, 1);
    assert.equal(f.state().failures, 0);
    assert.equal(await code(checking), "wrong-pin");
  });
});
