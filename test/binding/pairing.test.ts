// Binding needs the device owner's consent (docs/spec.md §7.3), tried as the attacker: a stranger
// on the network who can reach the device's binding endpoint, with keys of their own, without the
// setup code, with a code from a window that has closed, or guessing codes; and a second user who
// asks for telemetry after the first. Against a real `reid serve --device` on loopback.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { reachableAddress } from "../../src/binding/address.js";
import { bindRequest, checkHello } from "../../src/binding/handshake.js";
import { PROTOCOL } from "../../src/binding/wire.js";
import { initStore } from "../cli/store.js";
import { deviceAddress, openPairing, testParty } from "../helpers/binding.js";
import { assertOneLineError, reid, reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & { error?: { code: string; exit: number } };
}

async function post(address: string, path: string, body: unknown): Promise<Answer> {
  const response = await fetch(`http://${address}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

/**
 * A stranger's whole bind with keys of its own, as the protocol stood before pairing: a hello,
 * then a request with both proofs of possession and, when it has one, a code. Returns the last
 * answer (the hello's if it was refused).
 */
async function strangerBinds(address: string, deviceHandle: string, code?: string): Promise<Answer> {
  const nonce = randomBytes(32);
  const hello = await post(address, "/v1/bind/hello", { v: PROTOCOL, nonce: nonce.toString("hex") });
  if (hello.status !== 200) return hello;
  const { device, challenge } = checkHello(hello.body, nonce, deviceHandle);
  const request = bindRequest(testParty(), device, challenge, nonce, code ?? "");
  return post(address, "/v1/bind/request", request.message);
}

async function startDevice(t: TestContext) {
  const { dir } = tempDir(t);
  const deviceStore = join(dir, "device");
  await initStore(deviceStore);
  const daemon = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns", "--sample-every", "0.1"],
  });
  return { dir, deviceStore, daemon, ...(await deviceAddress(daemon)) };
}

async function deviceUsers(deviceStore: string): Promise<string[]> {
  const { bindings } = await reidJson<{ bindings: { role: string; handle: string }[] }>([
    "--store",
    deviceStore,
    "bindings",
  ]);
  return bindings.filter((b) => b.role === "user").map((b) => b.handle);
}

/** A user's store, initialized, that binds with `reid bind` and the code in a 0600 file. */
async function userBinds(dir: string, name: string, address: string, handle: string, code: string) {
  const store = join(dir, name);
  await initStore(store);
  const codeFile = secretFile(dir, `${name}.code`, `${code}\n`);
  const result = await reid([
    "--store",
    store,
    "--json",
    "bind",
    address,
    "--expect-handle",
    handle,
    "--code-file",
    codeFile,
  ]);
  return { store, result };
}

describe("pairing: a bind needs the owner's window and its setup code", () => {
  test("a stranger without the code cannot bind, and 300 tries do not fill the slots", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    // No window open: refused at once, whatever the stranger sends.
    for (let i = 0; i < 300; i++) {
      const answer = await strangerBinds(address, handle);
      assert.notEqual(answer.status, 200, `stranger bind ${i} was accepted`);
      assert.equal(answer.body.error?.exit, 3, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.code, "not-pairing");
    }
    assert.deepEqual(await deviceUsers(deviceStore), []);
    // Inside a window, without the code (an empty or made-up one): refused, nothing stored.
    const { code } = await openPairing(deviceStore, "2m");
    const inWindow = await strangerBinds(address, handle);
    assert.equal(inWindow.status, 403, JSON.stringify(inWindow.body));
    assert.equal(inWindow.body.error?.code, "wrong-code");
    assert.deepEqual(await deviceUsers(deviceStore), []);
    // The owner's user, with the code, still binds: the slots were never filled.
    const { result } = await userBinds(dir, "user", address, handle, code);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await deviceUsers(deviceStore)).length, 1);
  });

  test("only the owner opens a window: with a PIN set, reid pair without it is refused and opens none", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const pin = secretFile(dir, "pin", "owner-pin-4821\n");
    assert.equal((await reid(["--store", deviceStore, "pin", "set", "--new-pin-file", pin])).code, 0);
    const refused = await reid(["--store", deviceStore, "pair", "--for", "2m"]);
    assertOneLineError(refused, 4, /PIN/);
    assert.equal((await strangerBinds(address, handle)).body.error?.code, "not-pairing");
    const { code } = await openPairing(deviceStore, "2m", {}, ["--pin-file", pin]);
    const { result } = await userBinds(dir, "user", address, handle, code);
    assert.equal(result.code, 0, result.stderr);
  });

  test("a code from a window that has closed does not bind", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const { code } = await openPairing(deviceStore, "1s");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { result } = await userBinds(dir, "late", address, handle, code);
    assertOneLineError(result, 3, /not pairing|no pairing window/);
    assert.equal((await strangerBinds(address, handle, code)).body.error?.code, "not-pairing");
    assert.deepEqual(await deviceUsers(deviceStore), []);
  });

  test("the code is single-use: a second bind with it is refused", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const { code } = await openPairing(deviceStore, "2m");
    assert.equal((await userBinds(dir, "first", address, handle, code)).result.code, 0);
    const second = await userBinds(dir, "second", address, handle, code);
    assertOneLineError(second.result, 3, /not pairing|no pairing window/);
    assert.equal((await deviceUsers(deviceStore)).length, 1);
  });

  test("wrong codes close the window after 5 tries: the right code is refused after them", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const { code } = await openPairing(deviceStore, "2m");
    for (let i = 0; i < 5; i++) {
      const guess = await strangerBinds(address, handle, `${i}`.repeat(10));
      assert.equal(guess.body.error?.code, "wrong-code", JSON.stringify(guess.body));
    }
    assert.equal((await strangerBinds(address, handle, code)).body.error?.code, "not-pairing");
    const { result } = await userBinds(dir, "user", address, handle, code);
    assertOneLineError(result, 3, /not pairing|no pairing window/);
    assert.deepEqual(await deviceUsers(deviceStore), []);
  });

  test("the legitimate user binds with the code and commands the device", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const { code } = await openPairing(deviceStore, "2m");
    const { store, result } = await userBinds(dir, "user", address, handle, code);
    assert.equal(result.code, 0, result.stderr);
    const bound = JSON.parse(result.stdout) as { device: string; user: string };
    assert.equal(bound.device, handle);
    assert.deepEqual(await deviceUsers(deviceStore), [bound.user]);
    const sent = await reidJson<{ counter: number }>(["--store", store, "command", address, "light", "on"]);
    assert.equal(sent.counter, 1);
  });

  test("a second user's telemetry never shows a reading taken before it bound, nor one taken for the first user", async (t) => {
    const { dir, deviceStore, address, handle } = await startDevice(t);
    const first = await userBinds(dir, "alice", address, handle, (await openPairing(deviceStore, "2m")).code);
    assert.equal(first.result.code, 0, first.result.stderr);
    const telemetry = (store: string) =>
      reidJson<{ readings: { time: string }[] }>(["--store", store, "telemetry", address, "--count", "64"]);
    // Alice's history fills with samples and her own fresh readings.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const alices = (await telemetry(first.store)).readings;
    assert.ok(alices.length > 1, "alice sees the samples taken since she bound");
    const second = await userBinds(dir, "bob", address, handle, (await openPairing(deviceStore, "2m")).code);
    assert.equal(second.result.code, 0, second.result.stderr);
    const bobBound = Date.now();
    const bobs = (await telemetry(second.store)).readings;
    const seenByAlice = new Set(alices.map((r) => r.time));
    for (const reading of bobs) {
      assert.ok(!seenByAlice.has(reading.time), `bob was shown alice's reading of ${reading.time}`);
      assert.ok(
        Date.parse(reading.time) >= bobBound - 1000,
        `bob was shown ${reading.time}, before he bound`,
      );
    }
  });
});

describe("pairing: the address a user is shown", () => {
  test("a wildcard --listen is shown as an address of this machine, anything else as it is", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && a.family === "IPv4")
      .map((a) => a?.address);
    for (const wildcard of ["0.0.0.0:7491", "[::]:7491"]) {
      const shown = reachableAddress(wildcard);
      const [host, port] = shown.split(":");
      assert.equal(port, "7491", shown);
      assert.ok(own.includes(host ?? ""), `${shown} is not an address of this machine`);
      assert.notEqual(host, "0.0.0.0");
    }
    for (const named of ["192.0.2.7:7470", "127.0.0.1:7491", "[::1]:7470", "device.local:7470"]) {
      assert.equal(reachableAddress(named), named);
    }
  });
});
