// The device role's network endpoint against a real `reid serve --device` process on loopback:
// the protocol as a bound user speaks it, every refusal a device owes (forged, replayed, stale,
// foreign-device, unbound), and bad input of every kind (garbage, oversized, truncated, slow,
// fuzzed): a one-line JSON error or a closed connection, and a daemon that stays up.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { signCommand } from "../../src/binding/command.js";
import { HEADERS_TIMEOUT_MS } from "../../src/binding/endpoint.js";
import { bindRequest, checkBindResult, checkHello } from "../../src/binding/handshake.js";
import { DEVICE_MESSAGES } from "../../src/binding/messages.js";
import { setupCode } from "../../src/binding/pairing.js";
import { openTelemetry } from "../../src/binding/telemetry.js";
import { PROTOCOL } from "../../src/binding/wire.js";
import { initStore, request } from "../cli/store.js";
import { deviceAddress, openPairing, testParty } from "../helpers/binding.js";
import { reidJson } from "../helpers/cli.js";
import { type ServedDaemon, serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & { error?: { code: string; message: string; exit: number } };
  readonly text: string;
}

async function post(
  address: string,
  path: string,
  body: unknown,
  type = "application/json",
): Promise<Answer> {
  const response = await fetch(`http://${address}${path}`, {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

/** A refusal: the status, a one-line JSON error with the expected code and exit code. */
function assertRefused(answer: Answer, status: number, code: string | RegExp, exit: number): void {
  assert.equal(answer.status, status, answer.text);
  assert.ok(!answer.text.trimEnd().includes("\n"), "one line");
  assert.match(answer.body.error?.code ?? "", typeof code === "string" ? new RegExp(`^${code}$`) : code);
  assert.equal(answer.body.error?.exit, exit);
  assert.doesNotMatch(answer.text, /\bat .*:\d+:\d+/, "no stack trace");
}

/**
 * Binds a user party to the device with the raw protocol, as `reid bind` does, in a pairing window
 * the owner of `store` opens.
 */
async function bindParty(address: string, deviceHandle: string, store: string, user = testParty()) {
  const { code } = await openPairing(store);
  const nonce = randomBytes(32);
  const hello = await post(address, "/v1/bind/hello", { v: PROTOCOL, nonce: nonce.toString("hex") });
  const { device, challenge } = checkHello(hello.body, nonce, deviceHandle);
  const request = bindRequest(user, device, challenge, nonce, setupCode(code));
  const result = await post(address, "/v1/bind/request", request.message);
  assert.equal(result.status, 200, result.text);
  checkBindResult(result.body, request.keys);
  return { user, device };
}

async function startDevice(t: Parameters<typeof serve>[0], ...extra: string[]) {
  const { store } = tempDir(t);
  await initStore(store);
  const daemon = await serve(t, store, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns", ...extra],
  });
  return { store, daemon, ...(await deviceAddress(daemon)) };
}

async function assertUp(daemon: ServedDaemon, address: string, store: string): Promise<void> {
  assert.equal(daemon.child.exitCode, null, "the daemon is still running");
  // No pairing window is open: the hello is answered, with the refusal it is owed.
  const hello = await post(address, "/v1/bind/hello", {
    v: PROTOCOL,
    nonce: randomBytes(32).toString("hex"),
  });
  assertRefused(hello, 409, "not-pairing", 3);
  assert.equal((await reidJson(["--store", store, "status"])).state, "set");
}

describe("device endpoint: the protocol and its refusals", () => {
  test("a bound user's command is accepted once; forged, replayed, stale, foreign-device and unbound are refused", async (t) => {
    const { address, handle, daemon, store } = await startDevice(t);
    const { user } = await bindParty(address, handle, store);
    const command = (counter: number, extra: object = {}) => ({
      ...signCommand(user, { device: handle, counter, time: Date.now(), name: "light", args: ["on"] }),
      ...extra,
    });
    const first = command(1);
    assert.equal((await post(address, "/v1/command", first)).status, 200);
    assertRefused(await post(address, "/v1/command", first), 403, "replayed", 4);
    assertRefused(
      await post(address, "/v1/command", { ...command(2), args: ["off"] }),
      403,
      "bad-signature",
      4,
    );
    const stale = signCommand(user, {
      device: handle,
      counter: 3,
      time: Date.now() - 600_000,
      name: "light",
      args: [],
    });
    assertRefused(await post(address, "/v1/command", stale), 403, "stale", 4);
    const foreign = signCommand(user, {
      device: testParty().handle,
      counter: 4,
      time: Date.now(),
      name: "light",
      args: [],
    });
    assertRefused(await post(address, "/v1/command", foreign), 403, "wrong-device", 4);
    const stranger = testParty();
    const unbound = signCommand(stranger, {
      device: handle,
      counter: 1,
      time: Date.now(),
      name: "light",
      args: [],
    });
    assertRefused(await post(address, "/v1/command", unbound), 403, "unbound", 4);
    assert.equal(
      (await post(address, "/v1/command", command(5))).status,
      200,
      "a higher counter is accepted",
    );
    // A bind request answering no challenge (or one already used) is refused.
    const replayedBind = bindRequest(
      user,
      { ...user, verifier: user.signer } as never,
      randomBytes(32),
      randomBytes(32),
      "0000000000",
    ).message;
    assertRefused(await post(address, "/v1/bind/request", replayedBind), 403, "unknown-challenge", 4);
    await assertUp(daemon, address, store);
  });

  test("telemetry opens for the bound user only, for its own request; a replayed request is refused", async (t) => {
    const { address, handle, store } = await startDevice(t);
    const { user, device } = await bindParty(address, handle, store);
    const asked = signCommand(user, {
      device: handle,
      counter: 1,
      time: Date.now(),
      name: "telemetry",
      args: [],
    });
    const sealed = await post(address, "/v1/telemetry", asked);
    assert.equal(sealed.status, 200, sealed.text);
    const [reading] = await openTelemetry(
      sealed.body,
      { handle: user.handle, x25519: user.keys.x25519 },
      { handle, x25519: device.x25519 },
      1,
    );
    assert.equal(JSON.parse(Buffer.from(reading as Uint8Array).toString()).sensor, "simulated");
    assertRefused(await post(address, "/v1/telemetry", asked), 403, "replayed", 4);
    // The answer does not open as the answer to another request.
    await assert.rejects(
      openTelemetry(
        sealed.body,
        { handle: user.handle, x25519: user.keys.x25519 },
        { handle, x25519: device.x25519 },
        2,
      ),
    );
  });

  test("telemetry with a count: the latest samples then the fresh reading, in one context; a bad count spends no counter; a reset drops the history", async (t) => {
    const { address, handle, store } = await startDevice(t, "--sample-every", "0.05");
    const ask = async (
      party: ReturnType<typeof testParty>,
      device: string,
      counter: number,
      args: string[],
    ) => {
      const command = signCommand(party, { device, counter, time: Date.now(), name: "telemetry", args });
      return post(address, "/v1/telemetry", command);
    };
    const opened = async (
      answer: Answer,
      user: ReturnType<typeof testParty>,
      device: Uint8Array,
      at: string,
      counter: number,
    ) => {
      assert.equal(answer.status, 200, answer.text);
      const readings = await openTelemetry(
        answer.body,
        { handle: user.handle, x25519: user.keys.x25519 },
        { handle: at, x25519: device },
        counter,
      );
      return readings.map((r) => JSON.parse(Buffer.from(r).toString()) as { time: string; value: string });
    };
    const { user, device } = await bindParty(address, handle, store);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const five = await opened(await ask(user, handle, 1, ["5"]), user, device.x25519, handle, 1);
    assert.equal(five.length, 5);
    const times = five.map((r) => Date.parse(r.time));
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
      "oldest first",
    );
    assert.ok((times.at(-1) as number) > Date.now() - 1000, "the last is fresh");
    for (const bad of [["0"], ["65"], ["01"], ["2", "3"], ["five"], ["-1"]]) {
      assertRefused(await ask(user, handle, 2, bad), 400, "bad-telemetry-request", 2);
    }
    // Counter 2 was not spent by the refusals; the history has grown past five.
    const all = await opened(await ask(user, handle, 2, ["64"]), user, device.x25519, handle, 2);
    assert.ok(all.length > 5 && all.length <= 64, `${all.length} readings`);
    const before = Date.now();
    const next = (await request(store, "reset")).handle as string;
    const rebound = await bindParty(address, next, store, user);
    const after = await opened(await ask(user, next, 3, ["64"]), user, rebound.device.x25519, next, 3);
    assert.ok(after.length >= 1, "the fresh reading at least");
    for (const r of after) assert.ok(Date.parse(r.time) >= before, "no reading from before the reset");
  });

  test("a reset of the device wipes its bindings: the user's commands are refused until it binds again", async (t) => {
    const { address, handle, store } = await startDevice(t);
    const { user } = await bindParty(address, handle, store);
    assert.equal(
      (await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"])).bindings.length,
      1,
    );
    const next = (await request(store, "reset")).handle as string;
    assert.deepEqual((await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"])).bindings, []);
    const late = signCommand(user, { device: next, counter: 1, time: Date.now(), name: "light", args: [] });
    assertRefused(await post(address, "/v1/command", late), 403, "unbound", 4);
    await bindParty(address, next, store, user);
    assert.equal((await post(address, "/v1/command", late)).status, 200);
  });
});

describe("device endpoint: bad input", () => {
  test("garbage, oversized, truncated, non-JSON and unknown fields: a clear error, the daemon stays up", async (t) => {
    const { address, daemon, store } = await startDevice(t);
    const [host, port] = [address.split(":")[0] as string, Number(address.split(":")[1])];
    const raw = (bytes: string | Buffer) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, host);
        let answer = "";
        socket.on("data", (chunk) => {
          answer += chunk.toString("latin1");
        });
        socket.on("close", () => resolve(answer));
        socket.on("error", () => resolve(answer));
        socket.end(bytes);
      });
    assert.match(await raw(randomBytes(4096)), /^HTTP\/1\.1 400/);
    assert.match(await raw("GARBAGE / HTTP/9\r\n\r\n"), /^HTTP\/1\.1 400/);
    // Truncated: a body promised longer than sent, then the connection ends.
    await raw(
      `POST /v1/bind/hello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"v":${PROTOCOL},`,
    );
    assertRefused(await post(address, "/v1/bind/hello", "x".repeat(1 << 20)), 400, "too-large", 2);
    assertRefused(await post(address, "/v1/bind/hello", "{not json"), 400, "usage", 2);
    assertRefused(await post(address, "/v1/bind/hello", "{}", "text/plain"), 400, "usage", 2);
    assertRefused(
      await post(address, "/v1/bind/hello", { v: PROTOCOL, nonce: "00", extra: 1 }),
      400,
      "usage",
      2,
    );
    assertRefused(await post(address, "/v1/bind/hello", { v: PROTOCOL, nonce: "zz" }), 400, "usage", 2);
    assertRefused(await post(address, "/v1/nowhere", {}), 404, "not-found", 2);
    await assertUp(daemon, address, store);
  });

  test("a slow client is cut after the header timeout while others are served", async (t) => {
    const { address, daemon, store } = await startDevice(t);
    const [host, port] = [address.split(":")[0] as string, Number(address.split(":")[1])];
    const started = Date.now();
    const slow = connect(port, host);
    slow.write("POST /v1/bind/hello HTTP/1.1\r\nhost: x\r\n");
    // The server's end of the connection: the one-line JSON refusal of docs/spec.md §6.3, then end of stream.
    const closed = new Promise<void>((resolve) => {
      slow.on("end", () => resolve());
      slow.on("close", () => resolve());
    });
    let answer = "";
    slow.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
    });
    slow.on("error", () => {});
    await assertUp(daemon, address, store);
    await closed;
    const waited = Date.now() - started;
    slow.destroy();
    assert.ok(waited >= HEADERS_TIMEOUT_MS - 100, `cut after ${waited} ms, before the timeout`);
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.match(answer, /"code":"request-timeout"/);
    await assertUp(daemon, address, store);
  });

  test("fuzzed messages to every route: a 4xx with a one-line JSON error, never a 5xx", async (t) => {
    const { address, daemon, store } = await startDevice(t);
    const field = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 140 }),
      fc.integer(),
    );
    // Every field of every message the device takes, and every route, from the protocol's table.
    const messages = Object.values(DEVICE_MESSAGES.operations);
    const fields = [...new Set(messages.flatMap((m) => Object.keys(m.input)))];
    const message = fc.record(
      Object.fromEntries(
        fields.map((name) => [name, name === "v" ? fc.oneof(fc.constant(1), field) : field]),
      ),
      { requiredKeys: [] },
    );
    const route = fc.constantFrom(...messages.map((m) => m.path));
    await fc.assert(
      fc.asyncProperty(route, message, async (path, body) => {
        const answer = await post(address, path, body);
        assert.ok(answer.status >= 400 && answer.status < 500, `${path} ${answer.status}: ${answer.text}`);
        assert.ok(!answer.text.trimEnd().includes("\n"));
        assert.equal(typeof answer.body.error?.message, "string");
      }),
      { numRuns: 400 },
    );
    await assertUp(daemon, address, store);
  });
});
