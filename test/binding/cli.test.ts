// The binding commands' contract: bad input is one line with the SPEC exit code; the user role
// works without a daemon of its own too (the CLI opens the store); `reid unbind` tells the device.
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { initStore } from "../cli/store.js";
import { deviceAddress, pairingCode } from "../helpers/binding.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const HANDLE = "0123456789abcdef0123456789abcdef";

/** A device's store and a user's store, both initialized, side by side in a temporary directory. */
async function deviceAndUser(t: TestContext) {
  const { dir } = tempDir(t);
  const deviceStore = join(dir, "device");
  const userStore = join(dir, "user");
  await initStore(deviceStore);
  await initStore(userStore);
  return { dir, deviceStore, userStore };
}

/** The device's owner opens a pairing window; the user binds with its code, in a 0600 file in `dir`. */
async function bindUser(
  userStore: string,
  deviceStore: string,
  address: string,
  handle: string,
  dir: string,
) {
  const code = await pairingCode(deviceStore, dir);
  return reidOk(["--store", userStore, "bind", address, "--expect-handle", handle, ...code]);
}

test("bad input to the binding commands: one line, exit 2 (usage), 3 (state) or 4 (auth)", async (t) => {
  const { dir, store } = tempDir(t);
  await initStore(store);
  const code = ["--code-file", secretFile(dir, "code", "ABCDE-FGHJK\n")];
  const badCode = ["--code-file", secretFile(dir, "bad-code", "ABCDE-FGHJ\n")];
  const cases: [string[], number, RegExp][] = [
    [["bind", "nowhere", "--expect-handle", HANDLE, ...code], 2, /bad device address 'nowhere'/],
    [["bind", "127.0.0.1:99999", "--expect-handle", HANDLE, ...code], 2, /bad device address/],
    [["bind", "127.0.0.1:7470"], 2, /needs --expect-handle/],
    [["bind", "127.0.0.1:7470", "--expect-handle", "XYZ", ...code], 2, /bad --expect-handle 'XYZ'/],
    [["bind", "127.0.0.1:7470", "--expect-handle", HANDLE], 2, /needs the device's setup code/],
    [
      ["bind", "127.0.0.1:7470", "--expect-handle", HANDLE, "--code", "ABCDE-FGHJK"],
      2,
      /not given on the command line/,
    ],
    [["bind", "127.0.0.1:7470", "--expect-handle", HANDLE, ...badCode], 2, /a setup code is 10 letters/],
    [["pair"], 3, /serves no device role/],
    [["pair", "--for", "0s"], 2, /bad --for '0s'/],
    [["pair", "--for", "11m"], 2, /bad --for '11m'/],
    [["pair", "--for", "2h"], 2, /bad --for '2h'/],
    [["command", "127.0.0.1:7470", "Bad Name"], 2, /bad command name/],
    [["command", "127.0.0.1:7470", "telemetry"], 2, /use 'reid telemetry'/],
    [["command", "127.0.0.1:7470"], 2, /missing an argument/],
    [["command", "127.0.0.1:7470", "light", "on"], 4, /not bound to a device at 127\.0\.0\.1:7470/],
    [["telemetry", "127.0.0.1:7470"], 4, /not bound/],
    [["telemetry", "127.0.0.1:7470", "--count", "0"], 2, /bad --count '0'/],
    [["telemetry", "127.0.0.1:7470", "--count", "65"], 2, /bad --count '65': expected 1 to 64/],
    [["telemetry", "127.0.0.1:7470", "--count", "2x"], 2, /bad --count/],
    [["unbind", HANDLE], 3, /no binding with handle/],
    [["unbind", "nope"], 2, /bad HANDLE/],
    [["discover", "--timeout", "0"], 2, /bad --timeout/],
    [["serve", "--listen", "127.0.0.1:0"], 2, /belong to 'reid serve --device'/],
    [["serve", "--sample-every", "1"], 2, /belong to 'reid serve --device'/],
    [["serve", "--device", "--sample-every", "0.01"], 2, /bad --sample-every '0\.01'/],
    [["serve", "--device", "--sample-every", "1e3"], 2, /bad --sample-every/],
    [["serve", "--device", "--sensor", "thermometer"], 2, /bad --sensor/],
    [["serve", "--device", "--listen", "127.0.0.1"], 2, /bad --listen/],
  ];
  for (const [args, code, pattern] of cases) {
    assertOneLineError(await reid(["--store", store, ...args]), code, pattern);
  }
  // Nothing listens on port 1: unreachable, said plainly (exit 7: a peer away, not the input).
  assertOneLineError(
    await reid(["--store", store, "bind", "127.0.0.1:1", "--expect-handle", HANDLE, ...code]),
    7,
    /cannot reach the device at 127\.0\.0\.1:1/,
  );
  assert.match((await reidOk(["--store", store, "bindings"])).stdout, /^no bindings\n$/);
});

test("a blank element can be neither device nor user", async (t) => {
  const { dir, store } = tempDir(t);
  assertOneLineError(await reid(["--store", store, "serve", "--device", "--no-mdns"]), 3);
  const code = ["--code-file", secretFile(dir, "code", "ABCDE-FGHJK\n")];
  assertOneLineError(
    await reid(["--store", store, "bind", "127.0.0.1:1", "--expect-handle", HANDLE, ...code]),
    3,
  );
});

test("without a user daemon: bind, command sensor telemetry, unbind tells the device", async (t) => {
  const { dir, deviceStore, userStore } = await deviceAndUser(t);
  const sensor = join(dir, "sensor.sh");
  writeFileSync(sensor, "#!/bin/sh\necho 'humidity 41%'\n");
  chmodSync(sensor, 0o700);
  const device = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns", "--sensor", `command:${sensor}`],
  });
  const { address, handle } = await deviceAddress(device);
  const user = ["--store", userStore];
  await bindUser(userStore, deviceStore, address, handle, dir);
  const { readings } = await reidJson<{ readings: { value: string }[] }>([...user, "telemetry", address]);
  assert.equal(readings[0]?.value, "humidity 41%");
  // Without sampling, the history holds the readings earlier requests took: one, plus the fresh one.
  const more = await reidJson<{ readings: unknown[] }>([...user, "telemetry", address, "--count", "3"]);
  assert.equal(more.readings.length, 2);
  assert.match(
    (await reidOk([...user, "bindings"])).stdout,
    new RegExp(`^device ${handle} bound .* at ${address}\\n$`),
  );
  const unbound = await reidJson<{ removed: { role: string }; notified: boolean }>([
    ...user,
    "unbind",
    handle,
  ]);
  assert.deepEqual([unbound.removed.role, unbound.notified], ["device", true]);
  assert.deepEqual(
    (await reidJson<{ bindings: unknown[] }>(["--store", deviceStore, "bindings"])).bindings,
    [],
  );
  assertOneLineError(await reid([...user, "command", address, "light", "on"]), 4, /not bound/);
  // The device's own unbind of a user: bound again, then removed from the device's side.
  await bindUser(userStore, deviceStore, address, handle, dir);
  const me = (await reidJson<{ handle: string }>([...user, "keys"])).handle;
  await reidOk(["--store", deviceStore, "unbind", me]);
  assertOneLineError(
    await reid([...user, "command", address, "light", "on"]),
    4,
    /refused: user .* is not bound/,
  );
});

test("without a user daemon: reset tells the bound device with the old key first, erase drops the bindings", async (t) => {
  const { dir, deviceStore, userStore } = await deviceAndUser(t);
  const device = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
  });
  const { address, handle } = await deviceAddress(device);
  const user = ["--store", userStore];
  const deviceBindings = async () =>
    (await reidJson<{ bindings: { handle: string }[] }>(["--store", deviceStore, "bindings"])).bindings;
  await bindUser(userStore, deviceStore, address, handle, dir);
  const before = (await reidJson<{ handle: string }>([...user, "keys"])).handle;
  assert.deepEqual(
    (await deviceBindings()).map((b) => b.handle),
    [before],
  );
  await reidOk([...user, "reset"]);
  // The device heard the signed unbind before the old key was gone: it holds no binding now.
  assert.deepEqual(await deviceBindings(), []);
  assert.match((await reidOk([...user, "bindings"])).stdout, /^no bindings\n$/);
  // The same for an erase (a blank element lists nothing: it is bound again first).
  await bindUser(userStore, deviceStore, address, handle, dir);
  assert.equal((await deviceBindings()).length, 1);
  await reidOk([...user, "erase"]);
  assert.deepEqual(await deviceBindings(), []);
});

test("a user's reset says which bound devices were told and which could not be reached", async (t) => {
  const { dir, deviceStore, userStore } = await deviceAndUser(t);
  const awayStore = join(dir, "away");
  await initStore(awayStore);
  const device = ["--device", "--no-mdns", "--listen"];
  const near = await deviceAddress(await serve(t, deviceStore, { serveArgs: [...device, "127.0.0.1:0"] }));
  let awayDaemon = await serve(t, awayStore, { serveArgs: [...device, "127.0.0.1:0"] });
  const away = await deviceAddress(awayDaemon);
  const user = ["--store", userStore];
  /** Binds the user to both devices, then stops the second: it cannot be told. */
  const bindBothThenLoseOne = async () => {
    await bindUser(userStore, deviceStore, near.address, near.handle, dir);
    await bindUser(userStore, awayStore, away.address, away.handle, dir);
    await awayDaemon.stop();
  };

  await bindBothThenLoseOne();
  const json = await reidJson<{ request: string; devices: unknown }>([...user, "reset"]);
  assert.deepEqual(
    [json.request, json.devices],
    [
      "reset",
      {
        told: [{ handle: near.handle, address: near.address }],
        unreachable: [{ handle: away.handle, address: away.address }],
      },
    ],
  );

  // Again in text, the second device back at its address long enough to bind.
  awayDaemon = await serve(t, awayStore, { serveArgs: [...device, away.address] });
  await bindBothThenLoseOne();
  const text = await reidOk([...user, "reset"]);
  const lines = text.stdout.split("\n");
  assert.match(lines[0] ?? "", /^reset: generation 3, handle [0-9a-f]{32}, at \S+$/);
  assert.deepEqual(lines.slice(1), [
    `told: ${near.handle}@${near.address}`,
    `not reached: ${away.handle}@${away.address}`,
    "",
  ]);
  assert.equal(text.stderr, "");
  // Without bound devices a reset says nothing of them.
  assert.doesNotMatch((await reidOk([...user, "reset"])).stdout, /told|not reached/);
});

test("a failing sensor: sampling reports it once on the daemon's stderr, a request gets a one-line error", async (t) => {
  const { dir, deviceStore, userStore } = await deviceAndUser(t);
  const sensor = join(dir, "broken.sh");
  writeFileSync(sensor, "#!/bin/sh\necho 'no such probe' >&2\nexit 3\n");
  chmodSync(sensor, 0o700);
  const device = await serve(t, deviceStore, {
    serveArgs: [
      "--device",
      "--listen",
      "127.0.0.1:0",
      "--no-mdns",
      "--sensor",
      `command:${sensor}`,
      "--sample-every",
      "0.05",
    ],
  });
  const { address, handle } = await deviceAddress(device);
  await bindUser(userStore, deviceStore, address, handle, dir);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assertOneLineError(
    await reid(["--store", userStore, "telemetry", address, "--count", "5"]),
    1,
    /sensor command .*broken\.sh failed/,
  );
  const stderr = (await device.stop()).stderr.toString();
  assert.equal(
    stderr.match(/sampling the sensor failed: sensor command .*broken\.sh failed/g)?.length,
    1,
    stderr,
  );
});
