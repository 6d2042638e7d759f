// The owner's unlock window (docs/spec.md §2.8) on a real element with its clock in the test's
// hands: one PIN opens it; while it is open, and only for actors of the daemon's socket,
// `command:NAME` and `telemetry` pass the gate without a proof, recorded as `cli:unlocked`;
// nothing else does; it ends at its time or at `lock`, and every opening and closing is recorded.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Actor } from "../../src/auth/actor.js";
import { MAX_UNLOCK_SECONDS } from "../../src/auth/actor.js";
import { parseUnlockDuration, UnlockWindow } from "../../src/auth/unlock-window.js";
import type { ElementService } from "../../src/element/service.js";
import { ownedElement } from "../helpers/owned-element.js";

const PIN = "owner pin 2468";
/** An actor of the daemon's socket, without a PIN: what a script sends. */
const SCRIPT: Actor = { principal: "cli", windowed: true };
const BY_PIN: Actor = { principal: "cli", credentials: { pin: PIN }, windowed: true };

function element(t: import("node:test").TestContext, pin = true) {
  return ownedElement(t, pin ? PIN : null);
}

/** The code a call was refused with, or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? String(e),
  );
}

/** An owner operation as the binding's user side names it, reading the identifier and nothing more. */
function use(service: ElementService, name: string, actor: Actor): Promise<string> {
  return outcome(service.control.ownerUse(name, actor, () => "done"));
}

async function records(service: ElementService) {
  return (await service.auditLog()).records.map((r) => `${r.request}:${r.principal}:${r.outcome}`);
}

describe("the unlock window", () => {
  test("one PIN opens it; command and telemetry pass without one, recorded as cli:unlocked; nothing else does", async (t) => {
    const { service } = await element(t);
    assert.equal(await use(service, "telemetry", SCRIPT), "pin-required");
    assert.equal(await outcome(service.as(SCRIPT).unlock(900)), "pin-required");
    const { until } = await service.as(BY_PIN).unlock(900);
    assert.equal(until, "2026-03-01T10:15:00.000Z");
    assert.equal((await service.status()).owner.unlockedUntil, until);
    assert.equal(await use(service, "telemetry", SCRIPT), "ok");
    assert.equal(await use(service, "command:light", SCRIPT), "ok");
    for (const name of ["export", "bind", "unbind", "pair", "command:"]) {
      assert.equal(await use(service, name, SCRIPT), "pin-required", name);
    }
    const script = service.as(SCRIPT);
    assert.equal(await outcome(script.submit("reset")), "pin-required");
    assert.equal(await outcome(script.submit("erase")), "pin-required");
    assert.equal(await outcome(script.switchMode("factory")), "pin-required");
    assert.equal(await outcome(script.schedule("reset", undefined, "2026-03-02T10:00Z")), "pin-required");
    assert.equal(await outcome(script.setSingleType(true)), "pin-required");
    assert.equal(await outcome(script.setPin("another pin 1")), "pin-required");
    assert.equal(await outcome(script.unlock(60)), "pin-required", "a window cannot extend itself");
    // Not for actors outside the socket: the page's, and the CLI's direct path.
    assert.equal(await use(service, "telemetry", { principal: "web" }), "pin-required");
    assert.equal(await use(service, "telemetry", { principal: "cli" }), "pin-required");
    const log = await records(service);
    assert.ok(log.includes(`unlock:cli:ok`), log.join(" "));
    assert.ok(log.includes("telemetry:cli:unlocked:ok"), log.join(" "));
    assert.ok(log.includes("command:light:cli:unlocked:ok"), log.join(" "));
    const { records: all } = await service.auditLog();
    assert.equal(all.find((r) => r.request === "unlock" && r.outcome === "ok")?.detail?.until, until);
  });

  test("it ends at its time, and at lock, which is recorded only when a window was open", async (t) => {
    const { service, wait } = await element(t);
    await service.as(BY_PIN).unlock(60);
    wait(59_999);
    assert.equal(await use(service, "telemetry", SCRIPT), "ok");
    wait(1);
    assert.equal(await use(service, "telemetry", SCRIPT), "pin-required");
    assert.equal((await service.status()).owner.unlockedUntil, null);

    await service.as(BY_PIN).unlock(600);
    const before = (await records(service)).length;
    assert.deepEqual(await service.as(SCRIPT).lock(), { was: "2026-03-01T10:11:00.000Z" });
    assert.equal(await use(service, "telemetry", SCRIPT), "pin-required");
    const log = await records(service);
    assert.ok(log.slice(before).includes("lock:cli:ok"), log.join(" "));
    const after = log.length;
    assert.deepEqual(await service.as(SCRIPT).lock(), { was: null });
    assert.equal((await records(service)).length, after, "a lock with no window wrote a record");
  });

  test("without a PIN every operation is open: unlock is exit 3 no-pin", async (t) => {
    const { service } = await element(t, false);
    assert.equal(await outcome(service.as(SCRIPT).unlock(60)), "no-pin");
  });

  test("durations: Ns, Nm, Nh from 1 s to 12 h; anything else is refused", () => {
    assert.equal(parseUnlockDuration("15m"), 900);
    assert.equal(parseUnlockDuration("90s"), 90);
    assert.equal(parseUnlockDuration("12h"), MAX_UNLOCK_SECONDS);
    for (const bad of ["0", "0s", "1y", "13h", "721m", "15", "m", "-1m", "1.5h", "15 m", "999999s"]) {
      assert.equal(parseUnlockDuration(bad), null, bad);
    }
    const window = new UnlockWindow(() => new Date(0));
    assert.throws(() => window.open(0), /1 s to 12 h/);
    assert.throws(() => window.open(MAX_UNLOCK_SECONDS + 1), /1 s to 12 h/);
    assert.equal(window.openUntil(), null);
  });
});
