// Issue 5, end to end: a device daemon and a user daemon, separate processes, real sockets. As
// root (CI) both run inside a private network namespace with loopback only, so mDNS discovery is
// real multicast that never reaches the machine's interfaces; otherwise discovery is skipped
// (said so) and the rest runs on the host's loopback.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { signCommand } from "../../src/binding/command.js";
import { type BindingKeys, partyOf } from "../../src/binding/parties.js";
import { deriveKeys } from "../../src/derive/derivation.js";
import { assertNoSecretIn, initStore, storedIdentifier } from "../cli/store.js";
import { deviceAddress, pairingCode, privateNetwork } from "../helpers/binding.js";
import { assertOneLineError, REID, reid, reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

test("discover, bind, command, telemetry; user reset -> refused -> rebind -> accepted", async (t) => {
  const { dir } = tempDir(t);
  const deviceStore = join(dir, "device");
  const userStore = join(dir, "user");
  await initStore(deviceStore);
  await initStore(userStore);
  const network = privateNetwork(t);
  if (!network)
    t.diagnostic("mDNS discovery skipped: not root, so no private network namespace (CI runs as root)");
  const prefix = network?.prefix ?? [];
  const sensorFile = join(dir, "temperature");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(sensorFile, "23.5\n");

  const device = await serve(t, deviceStore, {
    prefix,
    serveArgs: [
      "--device",
      "--listen",
      "127.0.0.1:0",
      "--sensor",
      `file:${sensorFile}`,
      ...(network ? [] : ["--no-mdns"]),
    ],
  });
  const { address, handle: deviceHandle } = await deviceAddress(device);
  await serve(t, userStore, { prefix });
  const deviceEvents = follow(t, deviceStore);
  const userEvents = follow(t, userStore);
  const cli = (store: string, ...args: string[]) => reid(["--store", store, ...args], { prefix });
  const json = <T = Record<string, unknown>>(store: string, ...args: string[]) =>
    reidJson<T>(["--store", store, ...args], { prefix });
  // The device's owner opens a pairing window for each bind.
  const code = () => pairingCode(deviceStore, dir, { prefix });

  if (network) {
    const { devices } = await json<{ devices: { handle: string; address: string }[] }>(userStore, "discover");
    const found = devices.find((d) => d.handle === deviceHandle);
    assert.ok(found, `discover did not list ${deviceHandle}: ${JSON.stringify(devices)}`);
    assert.equal(found.address.split(":")[1], address.split(":")[1], "the advertised port is the endpoint's");
  }

  // The wrong handle: the device's key does not match, nothing is bound.
  assertOneLineError(
    await cli(userStore, "bind", address, "--expect-handle", "0".repeat(32), ...(await code())),
    4,
    /not the expected/,
  );
  const bound = await json(userStore, "bind", address, "--expect-handle", deviceHandle, ...(await code()));
  assert.equal(bound.device, deviceHandle);
  const oldUser = bound.user as string;

  const accepted = await json(userStore, "command", address, "light", "on");
  assert.deepEqual(accepted, { device: deviceHandle, name: "light", counter: 1 });
  const telemetry = await json<{ device: string; readings: { value: string; sensor: string }[] }>(
    userStore,
    "telemetry",
    address,
  );
  assert.equal(telemetry.device, deviceHandle);
  assert.equal(telemetry.readings[0]?.value, "23.5");
  // Through the user's daemon too: the earlier reading, then a fresh one, opened in order.
  writeFileSync(sensorFile, "24.0\n");
  const two = await json<{ readings: { value: string }[] }>(userStore, "telemetry", address, "--count", "2");
  assert.deepEqual(
    two.readings.map((r) => r.value),
    ["23.5", "24.0"],
  );

  const listed = await json<{ bindings: { role: string; handle: string }[] }>(deviceStore, "bindings");
  assert.deepEqual(
    listed.bindings.map((b) => [b.role, b.handle]),
    [["user", oldUser]],
  );

  // The old key, kept by the test to play an attacker who has it after the reset.
  const oldIdentifier = storedIdentifier(userStore);
  assert.ok(oldIdentifier);
  const oldParty = partyOf(deriveKeys(oldIdentifier, ["ed25519", "x25519"]) as BindingKeys);

  await json(userStore, "reset");
  const newUser = ((await json(userStore, "keys")) as { handle: string }).handle;
  assert.notEqual(newUser, oldUser);
  // The reset told the device (a signed unbind with the old key): the device holds no binding now.
  assert.deepEqual((await json<{ bindings: unknown[] }>(deviceStore, "bindings")).bindings, []);
  assertOneLineError(await cli(userStore, "command", address, "light", "on"), 4, /not bound/);
  // A command signed with the old key, sent straight to the device: refused as unbound.
  const forged = signCommand(oldParty, {
    device: deviceHandle,
    counter: 99,
    time: Date.now(),
    name: "light",
    args: [],
  });
  const refusal = await post(prefix, address, "/v1/command", forged);
  assert.equal(refusal.status, 403);
  assert.equal(refusal.body.error?.code, "unbound");

  await json(userStore, "bind", address, "--expect-handle", deviceHandle, ...(await code()));
  assert.equal((await json(userStore, "command", address, "light", "off")).counter, 1);
  // Still refused: the old key stays unbound after the rebind.
  const again = await post(prefix, address, "/v1/command", { ...forged, counter: 100 });
  assert.equal(again.status, 403);

  // Both sides were notified, in order.
  const deviceSaw = await deviceEvents.stop();
  const userSaw = await userEvents.stop();
  assert.deepEqual(
    deviceSaw.filter((e) => e.event).map((e) => [e.event, e.peer]),
    [
      ["bound", oldUser],
      ["command", oldUser],
      ["telemetry", oldUser],
      ["telemetry", oldUser],
      ["unbound", oldUser],
      ["bound", newUser],
      ["command", newUser],
    ],
  );
  assert.deepEqual(
    userSaw.filter((e) => e.event).map((e) => [e.event, e.peer]),
    [
      ["bound", deviceHandle],
      ["revoked", deviceHandle],
      ["bound", deviceHandle],
    ],
  );

  // Nothing printed by either daemon shows an identifier.
  await device.stop();
  const secrets = [
    oldIdentifier,
    storedIdentifier(deviceStore) as Uint8Array,
    storedIdentifier(userStore) as Uint8Array,
  ];
  const out = await device.exited;
  assertNoSecretIn({ stdoutBytes: out.stdout, stderr: out.stderr.toString() }, secrets, "device daemon");
  for (const file of ["bindings.json"]) {
    const text = readFileSync(join(userStore, file));
    assertNoSecretIn({ stdoutBytes: text, stderr: "" }, secrets, `user ${file}`);
  }
});

interface Event {
  readonly event?: string;
  readonly type?: string;
  readonly peer?: string;
}

/** `reid events --follow --json` as a child process; stop() ends it (by PID) and parses what it printed. */
function follow(t: { after(fn: () => unknown): void }, store: string): { stop(): Promise<Event[]> } {
  const child: ChildProcess = spawn(
    process.execPath,
    [REID, "--store", store, "--json", "events", "--follow"],
    {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const done = finished(child);
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    const { stdout } = await done;
    return stdout
      .toString("utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Event);
  };
  t.after(stop);
  return { stop };
}

/** POSTs to the device from inside its network (the namespace, when there is one). */
async function post(prefix: readonly string[], address: string, path: string, body: object) {
  const script = `const [url, body] = process.argv.slice(1);
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    console.log(JSON.stringify({ status: r.status, body: await r.json() }));`;
  const [command, ...args] = [
    ...prefix,
    process.execPath,
    "--input-type=module",
    "-e",
    script,
    `http://${address}${path}`,
    JSON.stringify(body),
  ];
  const { stdout } = await finished(spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] }));
  return JSON.parse(stdout.toString("utf8")) as { status: number; body: { error?: { code?: string } } };
}
