// The owner PIN in-process (issue 4, part 2), with an injected clock: nothing here sleeps through a
// back-off. The stored hashes are argon2id at OWASP's floor or above (read from their encodings);
// every try is persisted before the PIN is checked; five wrong PINs lock; the back-off doubles
// (1, 2, 4, 8 s) and a try inside it is refused without counting; the recovery code unlocks once
// and is replaced; and owner.json never holds the PIN or the recovery code in any readable form.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { verify as argon2Verify } from "@node-rs/argon2";
import type { Credentials } from "../../src/auth/actor.js";
import { checkPin, MAX_FAILURES, OwnerPin } from "../../src/auth/owner-pin.js";
import { PIN_KDF, pinCheck, pinSecret, tpmAuthValue } from "../../src/auth/owner-secret.js";
import { AuthError, ReidError } from "../../src/errors.js";
import { textForms } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const PIN = "correct horse 42";
const WRONG = "wrong pin 0000";
const RECOVERY_CODE = /^[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){4}$/;

interface Fixture {
  readonly dir: string;
  readonly clock: { now: number };
  /** A new OwnerPin on the same directory and clock (a restarted process). */
  open(): OwnerPin;
  state(): OwnerJson;
  stateText(): string;
  /** Moves the clock on by `ms`. */
  advance(ms: number): void;
}

interface OwnerJson {
  version: number;
  pin: { salt: string; check: string };
  recovery: string;
  failures: number;
  lastFailure: string | null;
}

function fixture(t: TestContext): Fixture {
  const { dir } = tempDir(t, "reid-owner-pin-");
  const clock = { now: Date.UTC(2026, 5, 1, 12, 0, 0) };
  const path = join(dir, "owner.json");
  return {
    dir,
    clock,
    open: () => new OwnerPin(dir, () => new Date(clock.now)),
    stateText: () => readFileSync(path, "utf8"),
    state: () => JSON.parse(readFileSync(path, "utf8")) as OwnerJson,
    advance: (ms) => {
      clock.now += ms;
    },
  };
}

const pin = (value: string): Credentials => ({ pin: value });

/** Resolves to the ReidError `promise` rejected with; fails the test if it resolved. */
async function refusal(promise: Promise<unknown>): Promise<ReidError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ReidError, `not a ReidError: ${String(error)}`);
    return error;
  }
  assert.fail("expected a refusal, but it was let through");
}

async function assertRefused(promise: Promise<unknown>, code: string, message?: RegExp): Promise<ReidError> {
  const error = await refusal(promise);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  if (message) assert.match(error.message, message);
  return error;
}

/** The fields of an argon2 PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash. */
function parseArgon2(encoded: string): {
  algorithm: string;
  version: number;
  m: number;
  t: number;
  p: number;
  salt: string;
  hash: string;
} {
  const match =
    /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
      encoded,
    );
  assert.ok(match, "not an argon2 encoding");
  const [, algorithm, version, m, t, p, salt, hash] = match as unknown as string[];
  return {
    algorithm: algorithm as string,
    version: Number(version),
    m: Number(m),
    t: Number(t),
    p: Number(p),
    salt: salt as string,
    hash: hash as string,
  };
}

function assertNotIn(text: string, secret: string, what: string): void {
  for (const form of textForms(secret)) assert.ok(!text.includes(form), `owner.json shows the ${what}`);
}

/** Wrong PINs until the counter says `failures`, waiting out each back-off on the fake clock. */
async function fail(f: Fixture, owner: OwnerPin, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await refusal(owner.authorize(pin(WRONG)));
    f.advance(60_000);
  }
}

describe("owner PIN: storage", () => {
  it("keeps the PIN as one argon2id's check and the recovery code as an argon2id hash, m >= 19456 KiB and t >= 2, each with its own salt", async (t) => {
    const f = fixture(t);
    const code = await f.open().set(PIN, undefined);
    assert.ok(code);
    const state = f.state();
    assert.equal(state.version, 2);
    assert.ok(PIN_KDF.memoryCost >= 19_456 && PIN_KDF.timeCost >= 2 && PIN_KDF.parallelism >= 1);
    // The PIN: a 16-byte salt and HMAC(argon2id(PIN, salt), "reid/pin-check").
    const salt = Buffer.from(state.pin.salt, "hex");
    assert.equal(salt.length, 16);
    const secret = await pinSecret(PIN, salt);
    assert.equal(pinCheck(secret).toString("hex"), state.pin.check, "the check is not the PIN's");
    assert.notEqual(pinCheck(await pinSecret(`${PIN}x`, salt)).toString("hex"), state.pin.check);
    // The TPM's authValue comes from the same secret, and owner.json does not hold it.
    const authValue = tpmAuthValue(secret).toString("hex");
    assert.notEqual(authValue, state.pin.check);
    assert.ok(!f.stateText().includes(authValue), "owner.json holds the TPM's authValue");
    // The recovery code: argon2's own encoding of it.
    const params = parseArgon2(state.recovery);
    assert.equal(params.algorithm, "argon2id");
    assert.equal(params.version, 19, "argon2 version 1.3");
    assert.ok(params.m >= 19_456, `m=${params.m} KiB is below 19 MiB`);
    assert.ok(params.t >= 2, `t=${params.t} is below 2`);
    assert.ok(Buffer.from(params.salt, "base64").length >= 16, "salt shorter than 16 bytes");
    assert.ok(Buffer.from(params.hash, "base64").length >= 32, "tag shorter than 32 bytes");
    assert.equal(await argon2Verify(state.recovery, code), true);
    assert.equal(await argon2Verify(state.recovery, `${code}x`), false);

    // A second element with the same PIN: a different salt, so a different check.
    const other = fixture(t);
    await other.open().set(PIN, undefined);
    assert.notEqual(other.state().pin.salt, state.pin.salt);
    assert.notEqual(other.state().pin.check, state.pin.check);
  });

  it("a PIN an earlier version kept as an argon2id hash still opens, and takes the new form once proven", async (t) => {
    const f = fixture(t);
    await f.open().set(PIN, undefined);
    const { hash } = await import("@node-rs/argon2");
    const earlier = { ...f.state(), version: 1, pin: await hash(PIN, { algorithm: 2, ...PIN_KDF }) };
    writeFileSync(join(f.dir, "owner.json"), JSON.stringify(earlier));
    await assertRefused(f.open().authorize(pin(WRONG)), "wrong-pin");
    assert.equal(f.state().version, 1, "a wrong PIN rewrote the PIN's form");
    f.advance(1000);
    await f.open().authorize(pin(PIN));
    const state = f.state();
    assert.equal(state.version, 2);
    assert.equal(
      pinCheck(await pinSecret(PIN, Buffer.from(state.pin.salt, "hex"))).toString("hex"),
      state.pin.check,
    );
    await f.open().authorize(pin(PIN));
  });

  it("owner.json never holds the PIN or a recovery code in clear, through set, wrong tries, change and unlock", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    const first = await owner.set(PIN, undefined);
    assert.ok(first);
    const secrets: [string, string][] = [
      ["PIN", PIN],
      ["recovery code", first],
    ];
    const check = () => {
      const text = f.stateText();
      for (const [what, secret] of secrets) assertNotIn(text, secret, what);
    };
    check();
    await fail(f, owner, 2);
    check();
    const newPin = "another-pin-987";
    assert.equal(await owner.set(newPin, pin(PIN)), null);
    secrets.push(["new PIN", newPin]);
    check();
    await fail(f, owner, MAX_FAILURES);
    const second = await owner.unlock(first);
    secrets.push(["second recovery code", second]);
    check();
    // The check itself works: a state that did hold the PIN would be caught.
    assert.throws(
      () => assertNotIn(`{"pin":"${Buffer.from(PIN).toString("hex")}"}`, PIN, "PIN"),
      /shows the PIN/,
    );
  });

  it("a corrupt owner.json (not JSON, wrong fields, an unreadable hash) is a storage error, not a crash", async (t) => {
    const f = fixture(t);
    await f.open().set(PIN, undefined);
    const good = f.stateText();
    const path = join(f.dir, "owner.json");
    const corrupt = (change: object) => JSON.stringify({ ...JSON.parse(good), ...change });
    for (const text of [
      "{",
      "null",
      "[]",
      corrupt({ failures: -1 }),
      corrupt({ page: null }),
      corrupt({ page: { failures: 1.5, lastFailure: null } }),
      corrupt({ page: { failures: 1, lastFailure: "yesterday" } }),
    ]) {
      writeFileSync(path, text);
      await assertRefused(f.open().authorize(pin(PIN)), "store-corrupt", /owner PIN state .* is corrupt/);
    }
    writeFileSync(
      path,
      JSON.stringify({ ...JSON.parse(good), pin: "$argon2id$v=19$m=19456,t=2,p=1$garbage" }),
    );
    await assertRefused(f.open().authorize(pin(PIN)), "store-corrupt");
  });
});

describe("owner PIN: the gate", () => {
  it("without a PIN set, everything is let through", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    assert.equal(owner.isSet(), false);
    await owner.authorize(undefined);
    await owner.authorize(pin("anything"));
    assert.deepEqual(owner.summary(), { set: false, failures: 0, locked: false });
  });

  it("once set, no credentials is pin-required and does not count as a try", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    assert.equal(owner.isSet(), true);
    const before = f.stateText();
    const error = await assertRefused(
      owner.authorize(undefined),
      "pin-required",
      /--pin-file FILE, REID_PIN/,
    );
    assert.ok(error instanceof AuthError);
    assert.equal(error.exitCode, 4);
    await assertRefused(owner.authorize({}), "pin-required");
    assert.equal(f.stateText(), before, "a request without a PIN changed the counter");
    await owner.authorize(pin(PIN));
  });

  it("a wrong PIN is refused with the tries left; the right one clears the counter", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    await assertRefused(owner.authorize(pin(WRONG)), "wrong-pin", /4 tries left/);
    assert.equal(f.state().failures, 1);
    assert.equal(f.state().lastFailure, new Date(f.clock.now).toISOString());
    f.advance(1000);
    await assertRefused(owner.authorize(pin(PIN.toUpperCase())), "wrong-pin", /3 tries left/);
    f.advance(2000);
    await owner.authorize(pin(PIN));
    assert.deepEqual([f.state().failures, f.state().lastFailure], [0, null]);
    assert.deepEqual(owner.summary(), { set: true, failures: 0, locked: false });
  });

  it("a try is persisted before the PIN is checked: a process killed mid-check has spent it", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    // authorize() runs synchronously up to the argon2 check; the counter must be on disk by then,
    // even for the right PIN (only a finished check may give the try back).
    const pending = owner.authorize(pin(PIN));
    const during = f.state();
    assert.equal(during.failures, 1, "the try was not on disk while the check ran");
    assert.equal(during.lastFailure, new Date(f.clock.now).toISOString());
    // Another process reading the store at that moment (or after a kill -9) sees the try.
    assert.equal(f.open().summary().failures, 1);
    await pending;
    assert.equal(f.state().failures, 0, "the right PIN gives the try back once checked");

    // A check that never finishes (here: argon2 fails on the stored hash) leaves the try counted.
    const good = JSON.parse(f.stateText()) as OwnerJson;
    writeFileSync(
      join(f.dir, "owner.json"),
      JSON.stringify({ ...good, version: 1, pin: "$argon2id$v=19$m=19456,t=2,p=1$garbage" }),
    );
    await assertRefused(f.open().authorize(pin(PIN)), "store-corrupt");
    assert.equal(f.state().failures, 1, "a check that threw gave its try back");
  });

  it("five wrong PINs lock the element: the right PIN is then refused, and locked tries do not count", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    for (let n = 1; n < MAX_FAILURES; n++) {
      await assertRefused(
        owner.authorize(pin(WRONG)),
        "wrong-pin",
        new RegExp(`\\(${MAX_FAILURES - n} ${MAX_FAILURES - n === 1 ? "try" : "tries"} left`),
      );
      assert.equal(f.state().failures, n);
      f.advance(2 ** (n - 1) * 1000);
    }
    const error = await assertRefused(
      owner.authorize(pin(WRONG)),
      "locked",
      /locked after 5 wrong PINs.*reid pin unlock/,
    );
    assert.equal(error.exitCode, 4);
    assert.deepEqual(owner.summary(), { set: true, failures: 5, locked: true });
    const locked = f.stateText();
    for (const days of [0, 1, 400]) {
      f.advance(days * 86_400_000);
      await assertRefused(owner.authorize(pin(PIN)), "locked");
      await assertRefused(f.open().authorize(pin(PIN)), "locked", undefined);
    }
    assert.equal(f.stateText(), locked, "a try on a locked element was counted");
    // A restart changes nothing: the lock is in the store.
    assert.equal(f.open().summary().locked, true);
    // Nor can the PIN be changed around the lock.
    await assertRefused(f.open().set("new-pin-123", pin(PIN)), "locked");
  });
});

describe("owner PIN: back-off", () => {
  it("after each wrong PIN the next try waits 1, 2, 4, then 8 s; a try inside the wait is refused and not counted", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    for (const [failures, seconds] of [
      [1, 1],
      [2, 2],
      [3, 4],
      [4, 8],
    ] as const) {
      await assertRefused(owner.authorize(pin(WRONG)), "wrong-pin");
      assert.equal(f.state().failures, failures);
      const counted = f.stateText();
      // At once: the whole wait is left.
      await assertRefused(
        owner.authorize(pin(WRONG)),
        "pin-backoff",
        new RegExp(`try again in ${seconds} s$`),
      );
      // The right PIN too: the back-off holds whatever is tried.
      await assertRefused(owner.authorize(pin(PIN)), "pin-backoff", new RegExp(`try again in ${seconds} s$`));
      // A restarted process sees the same wait (it is in the store, not in memory).
      await assertRefused(f.open().authorize(pin(PIN)), "pin-backoff");
      // Rounded up: 1 ms short of the end is still a whole second to go.
      f.advance(seconds * 1000 - 1);
      await assertRefused(owner.authorize(pin(PIN)), "pin-backoff", /try again in 1 s$/);
      assert.equal(f.stateText(), counted, "a try inside the back-off was counted");
      f.advance(1);
    }
    // The wait is over: the right PIN works and clears the counter.
    await owner.authorize(pin(PIN));
    assert.equal(f.state().failures, 0);
    // And the next wrong PIN starts again at 1 s; the refusal says how many there were, no more.
    await assertRefused(
      owner.authorize(pin(WRONG)),
      "wrong-pin",
      /^wrong PIN \(4 tries left before the element locks\)$/,
    );
    await assertRefused(owner.authorize(pin(PIN)), "pin-backoff", /^1 wrong PIN in a row: try again in 1 s$/);
  });

  it("a clock set back after a wrong PIN does not stretch the wait beyond the back-off", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    await fail(f, owner, 4);
    f.advance(-86_400_000);
    // The fourth failure's wait is 8 s, never the day the clock went back.
    await assertRefused(owner.authorize(pin(PIN)), "pin-backoff", /try again in 8 s$/);
  });
});

describe("owner PIN: recovery code", () => {
  it("is made on the first set only, 100 bits in five groups; a change keeps it", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    const code = await owner.set(PIN, undefined);
    assert.match(code ?? "", RECOVERY_CODE);
    const recovery = f.state().recovery;
    assert.equal(await owner.set("second-pin-1", pin(PIN)), null, "a change made a new recovery code");
    assert.equal(f.state().recovery, recovery);
    // Codes differ between elements.
    const other = await fixture(t).open().set(PIN, undefined);
    assert.notEqual(other, code);
  });

  it("unlocks a locked element once: the old code then fails, and the new one works", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    const first = await owner.set(PIN, undefined);
    assert.ok(first);
    await fail(f, owner, MAX_FAILURES);
    assert.equal(owner.summary().locked, true);

    // A wrong code does not unlock.
    await assertRefused(owner.unlock("AAAA-BBBB-CCCC-DDDD-EEEE"), "wrong-recovery-code");
    await assertRefused(owner.unlock(""), "wrong-recovery-code");
    await assertRefused(owner.unlock(`${first}A`), "wrong-recovery-code");
    assert.equal(owner.summary().locked, true);

    const second = await owner.unlock(first);
    assert.match(second, RECOVERY_CODE);
    assert.notEqual(second, first);
    assert.deepEqual(owner.summary(), { set: true, failures: 0, locked: false });
    assert.equal(f.state().lastFailure, null);
    // The PIN is the one set before: the wrong one still fails, the right one works.
    await assertRefused(owner.authorize(pin(WRONG)), "wrong-pin", /4 tries left/);
    f.advance(1000);
    await owner.authorize(pin(PIN));

    // The first code is spent.
    await fail(f, owner, MAX_FAILURES);
    await assertRefused(owner.unlock(first), "wrong-recovery-code");
    await assertRefused(f.open().authorize(pin(PIN)), "locked");
    // The second one works, typed loosely (lower case, spaces for dashes), and is spent in turn.
    const third = await f.open().unlock(second.toLowerCase().replaceAll("-", " "));
    assert.notEqual(third, second);
    await f.open().authorize(pin(PIN));
    await assertRefused(owner.unlock(second), "wrong-recovery-code");
    await owner.unlock(third);
  });

  it("there is nothing to unlock without a PIN", async (t) => {
    const f = fixture(t);
    await assertRefused(f.open().unlock("AAAA-BBBB-CCCC-DDDD-EEEE"), "usage", /no PIN is set/);
  });
});

describe("owner PIN: setting and changing", () => {
  it("a PIN has 6 to 128 characters (not bytes) and no line breaks or NUL", async (t) => {
    for (const good of [
      "123456",
      "a".repeat(128),
      "é".repeat(6),
      "🔑".repeat(6),
      "pass phrase with spaces",
      " 12345",
    ]) {
      assert.doesNotThrow(() => checkPin(good), `refused ${JSON.stringify(good).slice(0, 20)}`);
    }
    for (const bad of [
      "",
      "12345",
      "a".repeat(129),
      "🔑".repeat(5),
      "123\n456",
      "123456\r",
      "123\u0000456",
    ]) {
      assert.throws(
        () => checkPin(bad),
        (error: unknown) => error instanceof ReidError && error.code === "bad-pin" && error.exitCode === 2,
        `accepted ${JSON.stringify(bad).slice(0, 20)}`,
      );
    }
    // set() applies the policy before it hashes or touches the store.
    const f = fixture(t);
    await assertRefused(f.open().set("12345", undefined), "bad-pin");
    assert.equal(f.open().isSet(), false);
    await f.open().set("🔑".repeat(6), undefined);
    await f.open().authorize(pin("🔑".repeat(6)));
  });

  it("a change needs the present PIN (a wrong one counts as a try); then only the new PIN works", async (t) => {
    const f = fixture(t);
    const owner = f.open();
    await owner.set(PIN, undefined);
    const newPin = "brand-new-pin-77";
    await assertRefused(owner.set(newPin, undefined), "pin-required");
    await assertRefused(owner.set(newPin, pin(WRONG)), "wrong-pin", /4 tries left/);
    assert.equal(f.state().failures, 1);
    await assertRefused(owner.set(newPin, pin(PIN)), "pin-backoff");
    f.advance(1000);
    // A bad new PIN is refused before the present one is even checked (no try spent).
    await assertRefused(owner.set("short", pin(PIN)), "bad-pin");
    assert.equal(f.state().failures, 1);
    assert.equal(await owner.set(newPin, pin(PIN)), null);
    assert.equal(f.state().failures, 0);
    await assertRefused(owner.authorize(pin(PIN)), "wrong-pin");
    f.advance(1000);
    await owner.authorize(pin(newPin));
  });
});
