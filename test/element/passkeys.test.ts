// Passkeys as a credential of the element's owner gate (docs/spec.md §8.3), through ElementApi on
// a real element: registered with the PIN, each use verified by the gate (signature, user
// verification, a counter that goes up, the challenge and origin it was made for), its counter
// stored before the operation runs, and every refusal recorded under the operation it was for.
// The answers come from a software authenticator, so each check is shown refusing what it must.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Actor } from "../../src/auth/actor.js";
import type { ElementService } from "../../src/element/service.js";
import { challenge, SoftAuthenticator } from "../helpers/authenticator.js";
import { ownedElement } from "../helpers/owned-element.js";

const PIN = "owner pin 1357";
const ORIGIN = "http://localhost:8123";
const BY_PIN: Actor = { principal: "web:pin", credentials: { pin: PIN } };

function element(t: import("node:test").TestContext, pin = true) {
  return ownedElement(t, pin ? PIN : null, BY_PIN.principal);
}

/** The code a call was refused with. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const error = (await call.then(
    () => assert.fail("it was not refused"),
    (e: unknown) => e,
  )) as { code?: string };
  return error.code ?? String(error);
}

async function lastRecord(service: ElementService) {
  const { records } = await service.auditLog();
  const last = records.at(-1);
  return [last?.request, last?.principal, last?.outcome];
}

/** Registers a new soft authenticator's passkey with the PIN. */
async function registered(service: ElementService): Promise<SoftAuthenticator> {
  const authenticator = new SoftAuthenticator();
  const issued = challenge();
  await service.passkeyUser();
  await service.as(BY_PIN).addPasskey({
    response: authenticator.register({ challenge: issued, origin: ORIGIN }),
    challenge: issued,
    origin: ORIGIN,
  });
  return authenticator;
}

function byPasskey(authenticator: SoftAuthenticator, response: unknown, issued?: string): Actor {
  return {
    principal: `web:passkey:${authenticator.credentialId}`,
    credentials: {
      passkey: {
        response: response as never,
        origin: ORIGIN,
        ...(issued === undefined ? {} : { challenge: issued }),
      },
    },
  };
}

function storedCounter(store: string): number {
  return JSON.parse(readFileSync(join(store, "passkeys.json"), "utf8")).passkeys[0].counter;
}

describe("a passkey as the owner's credential", () => {
  test("a fresh assertion authorizes the operation, recorded under the passkey; its counter is kept", async (t) => {
    const { store, service } = await element(t);
    const authenticator = await registered(service);
    assert.deepEqual(await lastRecord(service), ["passkey-add", "web:pin", "ok"]);
    assert.deepEqual(
      (await service.listPasskeys()).map((p) => [p.id, p.transports]),
      [[authenticator.credentialId, ["internal"]]],
    );
    const before = (await service.status()).generation;
    const issued = challenge();
    const response = authenticator.assert({ challenge: issued, origin: ORIGIN, counter: 7 });
    const done = await service.as(byPasskey(authenticator, response, issued)).submit("reset");
    assert.equal(done.generation, before + 1);
    assert.deepEqual(await lastRecord(service), ["reset", `web:passkey:${authenticator.credentialId}`, "ok"]);
    assert.equal(storedCounter(store), 7);
    assert.ok((await service.listPasskeys())[0]?.lastUsed);
  });

  test("a replayed, cloned, unverified, misdirected or unknown answer is refused, recorded, and changes nothing", async (t) => {
    const { store, service } = await element(t);
    const authenticator = await registered(service);
    const first = challenge();
    const used = authenticator.assert({ challenge: first, origin: ORIGIN, counter: 3 });
    await service.as(byPasskey(authenticator, used, first)).submit("reset");
    const generation = (await service.status()).generation;

    const tries: [string, Actor, string][] = [];
    // The same answer again: its counter does not go up.
    tries.push(["replayed", byPasskey(authenticator, used, first), "passkey-refused"]);
    // A new answer whose counter went back (a cloned authenticator).
    const fresh = challenge();
    const back = authenticator.assert({ challenge: fresh, origin: ORIGIN, counter: 2 });
    tries.push(["counter back", byPasskey(authenticator, back, fresh), "passkey-refused"]);
    const c1 = challenge();
    const unverified = authenticator.assert({ challenge: c1, origin: ORIGIN, counter: 10, verified: false });
    tries.push(["no user verification", byPasskey(authenticator, unverified, c1), "passkey-refused"]);
    const c2 = challenge();
    const elsewhere = authenticator.assert({ challenge: c2, origin: "http://evil.example", counter: 11 });
    tries.push(["made on another origin", byPasskey(authenticator, elsewhere, c2), "passkey-refused"]);
    const c3 = challenge();
    const otherRp = authenticator.assert({
      challenge: c3,
      origin: ORIGIN,
      counter: 12,
      rpId: "evil.example",
    });
    tries.push(["made for another relying party", byPasskey(authenticator, otherRp, c3), "passkey-refused"]);
    const c4 = challenge();
    const otherChallenge = authenticator.assert({ challenge: challenge(), origin: ORIGIN, counter: 13 });
    tries.push([
      "answering another challenge",
      byPasskey(authenticator, otherChallenge, c4),
      "passkey-refused",
    ]);
    const c5 = challenge();
    tries.push([
      "no challenge issued",
      byPasskey(authenticator, authenticator.assert({ challenge: c5, origin: ORIGIN, counter: 14 })),
      "challenge-expired",
    ]);
    const stranger = new SoftAuthenticator();
    const c6 = challenge();
    const unknown = stranger.assert({ challenge: c6, origin: ORIGIN, counter: 1 });
    tries.push(["not registered", byPasskey(stranger, unknown, c6), "unknown-passkey"]);

    for (const [what, actor, code] of tries) {
      assert.equal(await refusal(service.as(actor).submit("erase")), code, what);
      assert.deepEqual(await lastRecord(service), ["erase", actor.principal, code], what);
    }
    const now = await service.status();
    assert.deepEqual([now.state, now.generation], ["set", generation]);
    assert.equal(storedCounter(store), 3, "no refused answer moved the counter");
  });

  test("registering needs the PIN, counted first; a passkey cannot register another", async (t) => {
    const { store, service, wait } = await element(t);
    const authenticator = await registered(service);
    const other = new SoftAuthenticator();
    const issued = challenge();
    const registration = {
      response: other.register({ challenge: issued, origin: ORIGIN }),
      challenge: issued,
      origin: ORIGIN,
    };

    const wrong: Actor = { principal: "web:pin", credentials: { pin: "not the pin 0000" } };
    assert.equal(await refusal(service.as(wrong).addPasskey(registration)), "wrong-pin");
    assert.equal((await service.status()).owner.failures, 1);
    assert.deepEqual(await lastRecord(service), ["passkey-add", "web:pin", "wrong-pin"]);
    wait(2000);

    const c = challenge();
    const proof = byPasskey(
      authenticator,
      authenticator.assert({ challenge: c, origin: ORIGIN, counter: 1 }),
      c,
    );
    assert.equal(await refusal(service.as(proof).addPasskey(registration)), "pin-required");
    assert.deepEqual(await lastRecord(service), ["passkey-add", proof.principal, "pin-required"]);

    // Without the challenge it answers: refused after the PIN was checked.
    const { challenge: _, ...unchallenged } = registration;
    assert.equal(await refusal(service.as(BY_PIN).addPasskey(unchallenged)), "challenge-expired");
    assert.deepEqual(JSON.parse(readFileSync(join(store, "passkeys.json"), "utf8")).passkeys.length, 1);

    await service.as(BY_PIN).addPasskey(registration);
    assert.equal((await service.listPasskeys()).length, 2);
    assert.equal(await refusal(service.as(BY_PIN).addPasskey(registration)), "passkey-exists");
  });

  test("a passkey keeps the owner's name for it, listed with it; one without a name lists null", async (t) => {
    const { store, service } = await element(t);
    await registered(service);
    const named = new SoftAuthenticator();
    const issued = challenge();
    await service.as(BY_PIN).addPasskey({
      response: named.register({ challenge: issued, origin: ORIGIN }),
      challenge: issued,
      origin: ORIGIN,
      name: "laptop",
    });
    const listed = await service.listPasskeys();
    assert.deepEqual(
      listed.map((p) => p.name),
      [null, "laptop"],
    );
    // A name that is not a string is a corrupt file, refused as one.
    const path = join(store, "passkeys.json");
    const file = JSON.parse(readFileSync(path, "utf8"));
    file.passkeys[1].name = 42;
    writeFileSync(path, JSON.stringify(file));
    assert.equal(await refusal(service.listPasskeys()), "store-corrupt");
  });

  test("a removed passkey proves nothing any more", async (t) => {
    const { service } = await element(t);
    const authenticator = await registered(service);
    const c = challenge();
    const proof = byPasskey(
      authenticator,
      authenticator.assert({ challenge: c, origin: ORIGIN, counter: 1 }),
      c,
    );
    assert.deepEqual(await service.as(proof).removePasskey(authenticator.credentialId), {
      removed: authenticator.credentialId,
    });
    assert.deepEqual(await lastRecord(service), ["passkey-remove", proof.principal, "ok"]);
    assert.deepEqual(await service.listPasskeys(), []);
    assert.equal(
      await refusal(service.as(BY_PIN).removePasskey(authenticator.credentialId)),
      "no-such-passkey",
    );
    const c2 = challenge();
    const later = byPasskey(
      authenticator,
      authenticator.assert({ challenge: c2, origin: ORIGIN, counter: 2 }),
      c2,
    );
    assert.equal(await refusal(service.as(later).submit("reset")), "unknown-passkey");
  });
});

describe("sign-in and refused proofs", () => {
  test("a sign-in checks and counts the PIN and is recorded; without a PIN set there is no one to sign in as", async (t) => {
    const { service } = await element(t);
    assert.deepEqual(await service.as(BY_PIN).signIn(), { principal: "web:pin" });
    assert.deepEqual(await lastRecord(service), ["web-sign-in", "web:pin", "ok"]);
    const wrong: Actor = { principal: "web:pin", credentials: { pin: "not the pin 0000" } };
    assert.equal(await refusal(service.as(wrong).signIn()), "wrong-pin");
    assert.deepEqual(await lastRecord(service), ["web-sign-in", "web:pin", "wrong-pin"]);
    assert.equal((await service.status()).owner.failures, 1);
    assert.equal(await refusal(service.as({ principal: "web:pin" }).signIn()), "pin-required");

    const { service: open } = await element(t, false);
    assert.equal(await refusal(open.as({ principal: "web:pin" }).signIn()), "no-pin");
  });

  test("a refused proof is recorded under the operation and refused with its reason, whatever the actor carries", async (t) => {
    const { service } = await element(t);
    const generation = (await service.status()).generation;
    for (const reason of ["proof-required", "challenge-expired", "challenge-mismatch"] as const) {
      // Even a right PIN does not turn a refusal into a pass: nothing is checked, nothing counted.
      assert.equal(await refusal(service.as(BY_PIN).refuseProof("reset", reason)), reason);
      assert.deepEqual(await lastRecord(service), ["reset", "web:pin", reason]);
    }
    const now = await service.status();
    assert.deepEqual([now.generation, now.owner.failures], [generation, 0]);
  });
});

describe("passkeys and the PIN lockout (docs/spec.md §2.8)", () => {
  /** Five wrong PINs: at the terminal they lock the element, on the page PIN entry on the page. */
  async function wrongPins(service: ElementService, wait: (ms: number) => number, tries?: "page") {
    for (let i = 0; i < 5; i++) {
      const wrong: Actor = {
        principal: "cli",
        credentials: { pin: "not the pin", ...(tries ? { tries } : {}) },
      };
      await refusal(service.as(wrong).submit("reset"));
      wait(60_000);
    }
  }

  function reset(service: ElementService, authenticator: SoftAuthenticator, counter: number) {
    const issued = challenge();
    const response = authenticator.assert({ challenge: issued, origin: ORIGIN, counter });
    return service.as(byPasskey(authenticator, response, issued)).submit("reset");
  }

  test("a locked element refuses passkeys too, before their counter is spent, unless the owner said otherwise", async (t) => {
    const { store, service, wait } = await element(t);
    const authenticator = await registered(service);
    await wrongPins(service, wait);
    assert.equal((await service.status()).owner.locked, true);
    const generation = (await service.status()).generation;
    assert.equal(await refusal(reset(service, authenticator, 5)), "locked");
    assert.deepEqual(await lastRecord(service), [
      "reset",
      `web:passkey:${authenticator.credentialId}`,
      "locked",
    ]);
    assert.equal(storedCounter(store), 0, "a refused passkey's counter was stored");
    assert.equal((await service.status()).generation, generation);

    // Only the owner's fresh PIN turns the bypass on, and a locked element takes no PIN.
    assert.equal(await refusal(service.setPasskeysBypassLockout(true)), "pin-required");
    assert.equal(await refusal(service.as(BY_PIN).setPasskeysBypassLockout(true)), "locked");
    assert.equal((await service.status()).owner.passkeysBypassLockout, false);
  });

  test("with passkeys-bypass-lockout on, a passkey passes a locked element; off again, it does not", async (t) => {
    const { service, wait } = await element(t);
    const authenticator = await registered(service);
    const on = await service.as(BY_PIN).setPasskeysBypassLockout(true);
    assert.equal(on.owner.passkeysBypassLockout, true);
    assert.deepEqual(await lastRecord(service), ["passkeys-bypass-lockout-on", "web:pin", "ok"]);
    // A PIN change keeps the choice.
    await service.as(BY_PIN).setPin(PIN);
    assert.equal((await service.status()).owner.passkeysBypassLockout, true);
    await wrongPins(service, wait);
    const generation = (await service.status()).generation;
    assert.equal((await reset(service, authenticator, 5)).generation, generation + 1);
    // Off needs the owner: a passkey may turn it off, as it is itself let through.
    const issued = challenge();
    const response = authenticator.assert({ challenge: issued, origin: ORIGIN, counter: 6 });
    await service.as(byPasskey(authenticator, response, issued)).setPasskeysBypassLockout(false);
    assert.equal(await refusal(reset(service, authenticator, 7)), "locked");
  });

  test("the page's own lock leaves passkeys working: they are the owner's way back onto the page", async (t) => {
    const { service, wait } = await element(t);
    const authenticator = await registered(service);
    await wrongPins(service, wait, "page");
    const { owner } = await service.status();
    assert.equal(owner.locked, false);
    const generation = (await service.status()).generation;
    assert.equal((await reset(service, authenticator, 5)).generation, generation + 1);
  });

  test("without a PIN there is no lockout to bypass: exit 3 no-pin", async (t) => {
    const { service } = await element(t, false);
    assert.equal(await refusal(service.setPasskeysBypassLockout(true)), "no-pin");
  });
});
