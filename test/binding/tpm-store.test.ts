// Binding with the user's store on a TPM (swtpm): bind, command, reset (the device then refuses the
// old key), rebind, erase (refused again), init and rebind; through the user's daemon and with no
// daemon. Every part that writes beside the store (bindings, audit, schedule, PIN, socket) writes
// into the store directory: the CLI and both daemons run in an empty working directory that must
// stay empty, and nothing new may appear next to the stores.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceBinding } from "../../src/binding/bindings-file.js";
import { signCommand } from "../../src/binding/command.js";
import { type BindingKeys, partyOf } from "../../src/binding/parties.js";
import { sendCommand } from "../../src/binding/user.js";
import { deriveKeys } from "../../src/derive/derivation.js";
import { unwrapWithPadding } from "../../src/derive/key-wrap.js";
import { ExitCode, ReidError } from "../../src/errors.js";
import { deviceAddress } from "../helpers/binding.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { serve, stopCleanly } from "../helpers/daemon.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524a00;

async function tpmSpec(): Promise<string> {
  const { spec } = await swtpm();
  const nvIndex = nextIndex;
  nextIndex += 2;
  return `${spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`;
}

for (const through of ["daemon", "direct"] as const) {
  test(`a TPM-backed user binds, commands, resets, erases and rebinds (${through}); nothing is written outside the stores`, async (t) => {
    const { dir } = tempDir(t);
    const cwd = join(dir, "cwd");
    const inputs = join(dir, "inputs");
    mkdirSync(cwd, { mode: 0o700 });
    mkdirSync(inputs, { mode: 0o700 });
    const wrapKey = secretFile(inputs, "wrap.key", randomBytes(32));
    const deviceStore = join(dir, "device");
    const userStore = join(dir, "user");
    const spec = await tpmSpec();

    const cli = (store: string, ...args: string[]) => reid(["--store", store, ...args], { cwd });
    const json = async <T = Record<string, unknown>>(store: string, ...args: string[]): Promise<T> => {
      const result: CliResult = await cli(store, "--json", ...args);
      assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
      return JSON.parse(result.stdout) as T;
    };
    /** The user's identifier as the old key's holder keeps it: exported wrapped, unwrapped here. */
    const userParty = async () => {
      const { wrapped } = await json<{ wrapped: string }>(userStore, "export", "--wrap-key", wrapKey);
      const identifier = unwrapWithPadding(readFileSync(wrapKey), Buffer.from(wrapped, "hex"));
      try {
        return partyOf(deriveKeys(identifier, ["ed25519", "x25519"]) as BindingKeys);
      } finally {
        identifier.fill(0);
      }
    };
    const deviceUsers = async () =>
      (await json<{ bindings: { role: string; handle: string }[] }>(deviceStore, "bindings")).bindings
        .filter((b) => b.role === "user")
        .map((b) => b.handle);

    await json(deviceStore, "init");
    await json(userStore, "--tpm", spec, "init");
    const besideStores = readdirSync(dir).sort();
    assert.deepEqual(besideStores, ["cwd", "device", "inputs", "user"]);

    const deviceDaemon = await serve(t, deviceStore, {
      cwd,
      serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
    });
    const { address, handle: deviceHandle } = await deviceAddress(deviceDaemon);
    // The user's daemon finds its TPM from the store: no --tpm.
    const userDaemon = through === "daemon" ? await serve(t, userStore, { cwd }) : null;
    const deviceKeys = await json<{ ed25519: string; x25519: string }>(deviceStore, "keys");
    const asDevice: DeviceBinding = {
      handle: deviceHandle,
      ed25519: deviceKeys.ed25519,
      x25519: deviceKeys.x25519,
      address,
      bound: new Date().toISOString(),
      counter: 0,
    };
    /** A command signed by `party` sent straight to the device: the error it is refused with, or null. */
    const refusalOf = async (party: Awaited<ReturnType<typeof userParty>>, counter: number) => {
      const command = signCommand(party, {
        device: deviceHandle,
        counter,
        time: Date.now(),
        name: "light",
        args: ["on"],
      });
      return sendCommand(address, asDevice, command).then(
        () => null,
        (error: unknown) => error,
      );
    };
    const assertRefused = (error: unknown, what: string) => {
      assert.ok(error instanceof ReidError, `${what}: the device accepted it`);
      assert.equal(error.exitCode, ExitCode.auth, `${what}: ${error.message}`);
      assert.equal(error.code, "unbound", `${what}: ${error.message}`);
    };

    // Bind and command with the first identifier.
    const first = await json<{ device: string; user: string }>(
      userStore,
      "bind",
      address,
      "--expect-handle",
      deviceHandle,
    );
    assert.equal(first.device, deviceHandle);
    assert.deepEqual(await json(userStore, "command", address, "light", "on"), {
      device: deviceHandle,
      name: "light",
      counter: 1,
    });
    assert.ok(existsSync(join(userStore, "bindings.json")), "the user's bindings are not in its store");
    const firstParty = await userParty();
    assert.equal(firstParty.handle, first.user);

    // Reset: the device was told, and refuses the old key from now on.
    await json(userStore, "reset");
    assertRefused(await refusalOf(firstParty, 50), "a command signed by the key before the reset");
    assert.deepEqual(await deviceUsers(), [], "the device still holds the old key's binding");
    assertOneLineError(await cli(userStore, "command", address, "light", "on"), 4, /not bound/);

    // Rebind with the new key.
    const second = await json<{ user: string }>(userStore, "bind", address, "--expect-handle", deviceHandle);
    assert.notEqual(second.user, first.user);
    assert.equal((await json(userStore, "command", address, "light", "off")).counter, 1);
    assertRefused(await refusalOf(firstParty, 60), "the first key, after the rebind");
    const secondParty = await userParty();

    // Erase: told again; then init and bind once more.
    await json(userStore, "erase");
    assertRefused(await refusalOf(secondParty, 70), "a command signed by the key before the erase");
    assert.deepEqual(await deviceUsers(), []);
    await json(userStore, "init");
    const third = await json<{ user: string }>(userStore, "bind", address, "--expect-handle", deviceHandle);
    assert.equal((await json(userStore, "command", address, "light", "on")).counter, 1);
    assert.deepEqual(await deviceUsers(), [third.user]);

    // Status names the store directory and, apart, the TPM that holds the identifier.
    const status = await json<{ store: string; backend: string }>(userStore, "status");
    assert.equal(status.store, userStore);
    assert.match(status.backend, /^swtpm.*, NV 0x01524a/);

    if (userDaemon) await stopCleanly(userDaemon);
    await stopCleanly(deviceDaemon);
    assert.deepEqual(readdirSync(cwd), [], "something was written into the working directory");
    assert.deepEqual(readdirSync(dir).sort(), besideStores, "something new appeared next to the stores");
    for (const [store, file] of [
      [userStore, "bindings.json"],
      [userStore, "audit.log"],
      [deviceStore, "bindings.json"],
    ] as const) {
      assert.ok(existsSync(join(store, file)), `${file} is not in ${store}`);
    }
  });
}
