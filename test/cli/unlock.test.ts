// `reid unlock` and `reid lock` (docs/spec.md §2.8, §3.8) as the owner's scripts meet them: a user
// element with a PIN, its daemon running, bound to a device. One `reid unlock --for D` with the PIN,
// and `telemetry` and `command` run without it until `reid lock` or the window's end; `reset`,
// `export`, `mode` and `schedule` still need the PIN. Each behaviour is one command, its exit code
// and its one line.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { deviceAddress, pairingCode } from "../helpers/binding.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { initStore } from "./store.js";

const PIN = "owner pin 97531";

interface Owner {
  readonly pin: boolean;
  readonly unlockedUntil: string | null;
}

/** A user element with a PIN and its daemon, bound to a device that serves the device role. */
async function boundUser(t: TestContext) {
  const { dir } = tempDir(t);
  const deviceStore = join(dir, "device");
  const userStore = join(dir, "user");
  await initStore(deviceStore);
  await initStore(userStore);
  const pinFile = secretFile(dir, "pin", `${PIN}\n`);
  await reidOk(["--store", userStore, "pin", "set", "--new-pin-file", pinFile]);
  const device = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
  });
  const { address, handle } = await deviceAddress(device);
  await serve(t, userStore);
  const code = await pairingCode(deviceStore, dir);
  const user = ["--store", userStore];
  await reidOk([...user, "--pin-file", pinFile, "bind", address, "--expect-handle", handle, ...code]);
  const message = join(dir, "message");
  writeFileSync(message, "a message to sign\n");
  return { dir, user, pin: ["--pin-file", pinFile], address, message, userStore };
}

const owner = async (user: readonly string[]) =>
  (await reidJson<{ owner: Owner }>([...user, "status"])).owner;

test("reid unlock: telemetry, command and sign without the PIN; reset, export, mode, schedule still need it; lock ends it", async (t) => {
  const { dir, user, pin, address, message } = await boundUser(t);
  // Before: the PIN is asked for (no terminal here, so refused).
  assertOneLineError(await reid([...user, "telemetry", address]), 4, /a PIN is set: give it/);
  assertOneLineError(await reid([...user, "unlock", "--for", "15m"]), 4, /a PIN is set: give it/);

  const opened = await reidOk([...user, ...pin, "unlock", "--for", "15m"]);
  assert.match(
    opened.stdout,
    /^unlocked until \d{4}-\d\d-\d\dT[\d:.]+Z: 'command', 'telemetry', 'enroll' and 'renew' need no PIN until then \('reid lock' ends it\)\n$/,
  );
  const { until } = await reidJson<{ until: string }>([...user, ...pin, "unlock", "--for", "2h"]);
  assert.equal((await owner(user)).unlockedUntil, until);
  assert.match(
    (await reidOk([...user, "status"])).stdout,
    new RegExp(
      `^unlocked    until ${until} \\(command, telemetry, enroll, renew: no PIN; reid lock\\)$`,
      "m",
    ),
  );

  assert.match((await reidOk([...user, "telemetry", address])).stdout, /^\S+ \S+ \S+\n$/);
  assert.match(
    (await reidOk([...user, "command", address, "light", "on"])).stdout,
    /^device [0-9a-f]{32} accepted 'light' \(command \d+\)\n$/,
  );
  assert.match((await reidOk([...user, "sign", message])).stdout, /^[0-9a-f]{128}\n$/);

  const wrap = secretFile(dir, "wrap", Buffer.alloc(32, 7));
  for (const args of [
    ["reset"],
    ["erase"],
    ["mode", "factory"],
    ["export", "--wrap-key", wrap],
    ["reset", "--at", "2099-01-01T00:00Z"],
    ["config", "single-type", "on"],
    ["unbind", "0123456789abcdef0123456789abcdef"],
  ]) {
    assertOneLineError(await reid([...user, ...args]), 4, /a PIN is set: give it/);
  }

  const records = (
    await reidJson<{ records: { request: string; principal: string; outcome: string }[] }>([...user, "log"])
  ).records;
  const seen = records.map((r) => `${r.request} ${r.principal} ${r.outcome}`);
  assert.ok(seen.includes("unlock cli ok"), seen.join("\n"));
  assert.ok(seen.includes("telemetry cli:unlocked ok"), seen.join("\n"));
  assert.ok(seen.includes("command:light cli:unlocked ok"), seen.join("\n"));

  const locked = await reidOk([...user, "lock"]);
  assert.equal(locked.stdout, `locked: the unlock window (until ${until}) is closed\n`);
  assert.equal((await owner(user)).unlockedUntil, null);
  assert.doesNotMatch((await reidOk([...user, "status"])).stdout, /^unlocked/m);
  assertOneLineError(await reid([...user, "telemetry", address]), 4, /a PIN is set: give it/);
  assert.equal((await reidOk([...user, "lock"])).stdout, "no unlock window was open\n");
  const after = (await reidJson<{ records: { request: string }[] }>([...user, "log"])).records;
  assert.equal(after.filter((r) => r.request === "lock").length, 1, "a lock with no window was recorded");
});

test("reid unlock: the window ends by itself at its time", async (t) => {
  const { user, pin, address } = await boundUser(t);
  await reidOk([...user, ...pin, "unlock", "--for", "1s"]);
  // No timing asserted: status is asked until it says the window is over.
  for (let i = 0; (await owner(user)).unlockedUntil !== null; i++) {
    assert.ok(i < 100, "the window did not end");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assertOneLineError(await reid([...user, "telemetry", address]), 4, /a PIN is set: give it/);
});

test("reid unlock: bad durations are exit 2; without a daemon exit 7 with a hint, and lock has nothing to close", async (t) => {
  const { dir, store } = tempDir(t);
  await initStore(store);
  const pinFile = secretFile(dir, "pin", `${PIN}\n`);
  await reidOk(["--store", store, "pin", "set", "--new-pin-file", pinFile]);
  for (const bad of ["0", "0s", "1y", "13h", "721m", "15", "-1m", "1.5h"]) {
    assertOneLineError(
      await reid(["--store", store, "--pin-file", pinFile, "unlock", `--for=${bad}`]),
      2,
      /^reid: bad --for '.*': a duration such as 90s, 15m or 2h, from 1 s to 12 h$/,
    );
  }
  assertOneLineError(
    await reid(["--store", store, "--pin-file", pinFile, "unlock", "--for", "15m"]),
    7,
    new RegExp(
      `^reid: no daemon serves store ${store}: an unlock window lives in the daemon's memory: start 'reid serve', then unlock$`,
    ),
  );
  assert.equal((await reidOk(["--store", store, "lock"])).stdout, "no unlock window was open\n");
  assert.equal((await reidJson<{ owner: Owner }>(["--store", store, "status"])).owner.unlockedUntil, null);
});
