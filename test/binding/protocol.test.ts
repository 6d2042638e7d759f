// The binding messages on their own (no network): every check accepts the genuine message and
// rejects each known-bad variant, so none of them can pass by accepting everything.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import {
  checkCommand,
  checkReceipt,
  FRESHNESS_MS,
  parseCommand,
  receipt,
  signCommand,
} from "../../src/binding/command.js";
import {
  bindRequest,
  bindResult,
  checkBindRequest,
  checkBindResult,
  checkHello,
  hello,
  NONCE_BYTES,
} from "../../src/binding/handshake.js";
import { peerOf } from "../../src/binding/parties.js";
import { openTelemetry, sealTelemetry } from "../../src/binding/telemetry.js";
import { PROTOCOL } from "../../src/binding/wire.js";
import { AuthError, ReidError } from "../../src/errors.js";
import { testParty } from "../helpers/binding.js";

const device = testParty();
const user = testParty();
const stranger = testParty();
const asPeer = (p: typeof device) => peerOf(p.ed25519, p.x25519);
const json = (value: object) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
/** Flips one bit of a hex field. */
const flip = (hex: string, at = 0) =>
  `${hex.slice(0, at)}${(Number.parseInt(hex[at] as string, 16) ^ 1).toString(16)}${hex.slice(at + 1)}`;

function rejectsWith(code: string, run: () => unknown) {
  assert.throws(
    run,
    (error: unknown) => error instanceof ReidError && error.code === code,
    `expected ${code}`,
  );
}

describe("bind handshake", () => {
  const nonce = randomBytes(NONCE_BYTES);
  const challenge = randomBytes(NONCE_BYTES);
  const helloMessage = json(hello(device, nonce, challenge));

  test("the user accepts the device's hello for its handle, and refuses a wrong handle or signature", () => {
    assert.equal(checkHello(helloMessage, nonce, device.handle).device.handle, device.handle);
    rejectsWith("wrong-device", () => checkHello(helloMessage, nonce, stranger.handle));
    // Another nonce: a hello recorded for someone else's request.
    rejectsWith("device-proof-failed", () =>
      checkHello(helloMessage, randomBytes(NONCE_BYTES), device.handle),
    );
    rejectsWith("device-proof-failed", () =>
      checkHello(
        { ...helloMessage, signature: flip(helloMessage.signature as string) },
        nonce,
        device.handle,
      ),
    );
    // The stranger's keys with the device's signature: the handle follows the key, so it is the stranger's.
    rejectsWith("wrong-device", () =>
      checkHello(
        { ...helloMessage, ed25519: Buffer.from(stranger.ed25519).toString("hex") },
        nonce,
        device.handle,
      ),
    );
    rejectsWith("protocol-version", () =>
      checkHello({ ...helloMessage, v: PROTOCOL + 1 }, nonce, device.handle),
    );
  });

  const code = "ABCDE12345";
  const opened = { challenge, nonce, code };
  const wrong = () => new AuthError("wrong-code", "wrong");

  test("the device accepts a request with the code's proof and the user's signature, and refuses each one wrong", () => {
    const request = json(bindRequest(user, asPeer(device), challenge, nonce, code).message);
    assert.equal(checkBindRequest(request, device, opened, wrong).user.handle, user.handle);
    // The code is checked first: a wrong one, or a proof for another hello, is a wrong code.
    const guessed = json(bindRequest(user, asPeer(device), challenge, nonce, "ABCDE12346").message);
    rejectsWith("wrong-code", () => checkBindRequest(guessed, device, opened, wrong));
    rejectsWith("wrong-code", () =>
      checkBindRequest(request, device, { ...opened, challenge: randomBytes(NONCE_BYTES) }, wrong),
    );
    rejectsWith("wrong-code", () =>
      checkBindRequest(request, device, { ...opened, nonce: randomBytes(NONCE_BYTES) }, wrong),
    );
    rejectsWith("wrong-code", () =>
      checkBindRequest({ ...request, proof: flip(request.proof as string) }, device, opened, wrong),
    );
    rejectsWith("bad-proof", () =>
      checkBindRequest({ ...request, signature: flip(request.signature as string) }, device, opened, wrong),
    );
    rejectsWith("bad-proof", () =>
      checkBindRequest({ ...request, handle: stranger.handle }, device, opened, wrong),
    );
    // Made for another device: keyed by the X25519 secret with that device, it does not verify here.
    const forOther = json(bindRequest(user, asPeer(stranger), challenge, nonce, code).message);
    rejectsWith("wrong-code", () => checkBindRequest(forOther, device, opened, wrong));
    // Someone else's X25519 key with the user's proof and signature: the proof (keyed by X25519)
    // catches it, so the proof is also the user's proof of possession of its X25519 key.
    rejectsWith("wrong-code", () =>
      checkBindRequest(
        { ...request, x25519: Buffer.from(stranger.x25519).toString("hex") },
        device,
        opened,
        wrong,
      ),
    );
  });

  test("the user accepts the device's result MAC for its request, and refuses one for another request", () => {
    const { message, keys } = bindRequest(user, asPeer(device), challenge, nonce, code);
    const { user: bound, keys: deviceKeys } = checkBindRequest(json(message), device, opened, wrong);
    const result = json(bindResult(device, bound, deviceKeys, 0, "2026-01-01T00:00:00.000Z"));
    assert.equal(checkBindResult(result, keys).counter, 0);
    // Another request's keys (another challenge), another code, a changed counter or time, a flipped MAC.
    const other = bindRequest(user, asPeer(device), randomBytes(NONCE_BYTES), nonce, code).keys;
    rejectsWith("device-proof-failed", () => checkBindResult(result, other));
    const otherCode = bindRequest(user, asPeer(device), challenge, nonce, "ABCDE12346").keys;
    rejectsWith("device-proof-failed", () => checkBindResult(result, otherCode));
    rejectsWith("device-proof-failed", () => checkBindResult({ ...result, counter: 5 }, keys));
    rejectsWith("device-proof-failed", () => checkBindResult({ ...result, bound: "2026-01-02" }, keys));
    rejectsWith("device-proof-failed", () =>
      checkBindResult({ ...result, mac: flip(result.mac as string) }, keys),
    );
    // The user's own proof, offered back as the result, is not one.
    rejectsWith("device-proof-failed", () => checkBindResult({ ...result, mac: message.proof }, keys));
  });
});

describe("signed commands", () => {
  const now = Date.now();
  const binding = { verifier: asPeer(user).verifier, counter: 3 };
  const signed = signCommand(user, {
    device: device.handle,
    counter: 4,
    time: now,
    name: "light",
    args: ["on"],
  });
  const parse = (value: object) => parseCommand(json(value));

  test("a fresh, signed command with a higher counter is accepted", () => {
    checkCommand(parse(signed), device.handle, binding, now);
  });
  test("forged, replayed, stale and foreign-device commands are refused, each with its code", () => {
    rejectsWith("bad-signature", () =>
      checkCommand(parse({ ...signed, args: ["off"] }), device.handle, binding, now),
    );
    const bystander = signCommand(stranger, {
      device: device.handle,
      counter: 4,
      time: now,
      name: "light",
      args: ["on"],
    });
    rejectsWith("bad-signature", () =>
      checkCommand(parse({ ...bystander, user: user.handle }), device.handle, binding, now),
    );
    rejectsWith("replayed", () =>
      checkCommand(parse(signed), device.handle, { ...binding, counter: 4 }, now),
    );
    rejectsWith("stale", () => checkCommand(parse(signed), device.handle, binding, now + FRESHNESS_MS + 1));
    rejectsWith("stale", () => checkCommand(parse(signed), device.handle, binding, now - FRESHNESS_MS - 1));
    rejectsWith("wrong-device", () => checkCommand(parse(signed), stranger.handle, binding, now));
  });
  test("malformed commands are usage errors naming the field", () => {
    for (const [bad, field] of [
      [{ ...signed, counter: -1 }, "counter"],
      [{ ...signed, name: "Bad Name" }, "name"],
      [{ ...signed, args: [1] }, "args"],
      [{ ...signed, signature: "00" }, "signature"],
      [{ ...signed, device: "x" }, "device"],
    ] as const) {
      assert.throws(() => parse(bad), new RegExp(field));
    }
  });
  test("the user accepts the device's receipt for this command only", () => {
    const answer = json(receipt(device, signed));
    checkReceipt(answer, asPeer(device).verifier, signed);
    rejectsWith("device-proof-failed", () => checkReceipt(answer, asPeer(stranger).verifier, signed));
    rejectsWith("device-proof-failed", () =>
      checkReceipt(answer, asPeer(device).verifier, { ...signed, counter: 5 }),
    );
  });
});

describe("sealed telemetry (HPKE Auth mode)", () => {
  const reading = Buffer.from('{"value":"21.5"}');
  const sealAs = (from: typeof device, to: typeof user, counter = 7) =>
    sealTelemetry(
      { handle: from.handle, x25519: from.keys.x25519 },
      { handle: to.handle, x25519: to.x25519 },
      counter,
      [reading],
    );
  const openAs = (sealed: object, me: typeof user, from: typeof device, counter = 7) =>
    openTelemetry(
      json(sealed),
      { handle: me.handle, x25519: me.keys.x25519 },
      { handle: from.handle, x25519: from.x25519 },
      counter,
    );
  const unopened = (error: unknown) => error instanceof ReidError && error.code === "telemetry-unopened";

  test("the bound user opens what the bound device sealed for this request", async () => {
    const [opened] = await openAs(await sealAs(device, user), user, device);
    assert.deepEqual(Buffer.from(opened as Uint8Array), reading);
  });
  test("tampered, replayed, foreign-device and wrong-recipient telemetry does not open", async () => {
    const sealed = await sealAs(device, user);
    const tampered = { ...sealed, readings: [flip(sealed.readings[0] as string, 10)] };
    await assert.rejects(openAs(tampered, user, device), unopened);
    await assert.rejects(openAs({ ...sealed, enc: flip(sealed.enc) }, user, device), unopened);
    // An answer to request 7 replayed as the answer to request 8.
    await assert.rejects(openAs(sealed, user, device, 8), unopened);
    // Sealed to the user by another device (which knows the user's public key): not the bound device.
    await assert.rejects(openAs(await sealAs(stranger, user), user, device), unopened);
    // Sealed by the device to someone else: the user cannot open it.
    await assert.rejects(openAs(await sealAs(device, stranger), user, device), unopened);
    await assert.rejects(openAs({ ...sealed, readings: [] }, user, device), unopened);
  });
});
