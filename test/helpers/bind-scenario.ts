// Binding with the user's store on a backend outside the store directory (a TPM, a PKCS#11
// token): bind, command, reset (the device then refuses the old key), rebind, erase (refused
// again), init and rebind; through the user's daemon and with no daemon. Every part that writes
// beside the store (bindings, audit, schedule, PIN, socket) writes into the store directory: the
// CLI and both daemons run in an empty working directory that must stay empty, and nothing new may
// appear next to the stores. One scenario, run by each backend's test file.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { DeviceBinding } from "../../src/binding/bindings-file.js";
import { signCommand } from "../../src/binding/command.js";
import { type BindingKeys, type Party, partyOf } from "../../src/binding/parties.js";
import { sendCommand } from "../../src/binding/user.js";
import { deriveKeys } from "../../src/derive/derivation.js";
import { unwrapWithPadding } from "../../src/derive/key-wrap.js";
import { ExitCode, ReidError } from "../../src/errors.js";
import { deviceAddress, pairingCode } from "./binding.js";
import { assertOneLineError, type CliResult, reid } from "./cli.js";
import { serve, stopCleanly } from "./daemon.js";
import { secretFile, tempDir } from "./temp.js";

/** Where the user's store keeps its identifier. */
export interface UserBackend {
  /** The global options that put a new store there (--tpm SPEC, --pkcs11 SPEC); later commands give none. */
  readonly args: readonly string[];
  /** What the CLI and the daemons need in their environment besides PATH and HOME (SOFTHSM2_CONF). */
  readonly env?: NodeJS.ProcessEnv;
  /** What the user's status shows as its backend. */
  readonly description: RegExp;
}

/** The two sides, set up: each store's CLI in the empty working directory, and the device's daemon. */
interface Parties {
  readonly dir: string;
  readonly cwd: string;
  readonly userStore: string;
  readonly deviceStore: string;
  /** What `dir` held once both stores existed. */
  readonly besideStores: readonly string[];
  readonly address: string;
  readonly deviceHandle: string;
  cli(store: string, ...args: string[]): Promise<CliResult>;
  json<T = Record<string, unknown>>(store: string, ...args: string[]): Promise<T>;
  /** The user's identifier as the old key's holder keeps it: exported wrapped, unwrapped here. */
  userParty(): Promise<Party>;
  /** The handles of the users the device holds bindings of. */
  deviceUsers(): Promise<string[]>;
  /** The device owner opens a pairing window, and the user binds with its code (`reid --json bind`). */
  bind(): Promise<{ device: string; user: string }>;
  /** A command signed by `party` sent straight to the device, which must refuse it as unbound. */
  assertRefused(party: Party, counter: number, what: string): Promise<void>;
  /** Stops the daemons. */
  stop(): Promise<void>;
}

/** The device on a files store, the user on `backend`; the user's commands `through` its daemon or not. */
export async function bindOnBackend(
  t: TestContext,
  through: "daemon" | "direct",
  backend: UserBackend,
): Promise<void> {
  const parties = await startParties(t, through, backend);
  const { userStore, address, deviceHandle, json, userParty, deviceUsers, assertRefused, bind } = parties;

  // Bind and command with the first identifier.
  const first = await bind();
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
  await assertRefused(firstParty, 50, "a command signed by the key before the reset");
  assert.deepEqual(await deviceUsers(), [], "the device still holds the old key's binding");
  assertOneLineError(await parties.cli(userStore, "command", address, "light", "on"), 4, /not bound/);

  // Rebind with the new key.
  const second = await bind();
  assert.notEqual(second.user, first.user);
  assert.equal((await json(userStore, "command", address, "light", "off")).counter, 1);
  await assertRefused(firstParty, 60, "the first key, after the rebind");
  const secondParty = await userParty();

  // Erase: told again; then init and bind once more.
  await json(userStore, "erase");
  await assertRefused(secondParty, 70, "a command signed by the key before the erase");
  assert.deepEqual(await deviceUsers(), []);
  await json(userStore, "init");
  const third = await bind();
  assert.equal((await json(userStore, "command", address, "light", "on")).counter, 1);
  assert.deepEqual(await deviceUsers(), [third.user]);

  // Status names the store directory and, apart, the backend that holds the identifier.
  const status = await json<{ store: string; backend: string }>(userStore, "status");
  assert.equal(status.store, userStore);
  assert.match(status.backend, backend.description);

  await parties.stop();
  checkNothingOutside(parties);
}

/** Makes both stores (the user's on `backend`), starts the device's daemon, and the user's when asked. */
async function startParties(
  t: TestContext,
  through: "daemon" | "direct",
  backend: UserBackend,
): Promise<Parties> {
  const { dir } = tempDir(t);
  const cwd = join(dir, "cwd");
  const inputs = join(dir, "inputs");
  mkdirSync(cwd, { mode: 0o700 });
  mkdirSync(inputs, { mode: 0o700 });
  const wrapKey = secretFile(inputs, "wrap.key", randomBytes(32));
  const deviceStore = join(dir, "device");
  const userStore = join(dir, "user");
  const env = backend.env ?? {};
  const cli = (store: string, ...args: string[]) => reid(["--store", store, ...args], { cwd, env });
  const json = async <T = Record<string, unknown>>(store: string, ...args: string[]): Promise<T> => {
    const result: CliResult = await cli(store, "--json", ...args);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  };

  await json(deviceStore, "init");
  await json(userStore, ...backend.args, "init");
  const besideStores = readdirSync(dir).sort();
  assert.deepEqual(besideStores, ["cwd", "device", "inputs", "user"]);
  const deviceDaemon = await serve(t, deviceStore, {
    cwd,
    env,
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
  });
  const { address, handle: deviceHandle } = await deviceAddress(deviceDaemon);
  // The user's daemon finds its backend from the store: no --tpm or --pkcs11.
  const userDaemon = through === "daemon" ? await serve(t, userStore, { cwd, env }) : null;
  const deviceKeys = await json<{ ed25519: string; x25519: string }>(deviceStore, "keys");
  const asDevice: DeviceBinding = {
    handle: deviceHandle,
    ed25519: deviceKeys.ed25519,
    x25519: deviceKeys.x25519,
    address,
    bound: new Date().toISOString(),
    counter: 0,
  };
  return {
    dir,
    cwd,
    userStore,
    deviceStore,
    besideStores,
    address,
    deviceHandle,
    cli,
    json,
    bind: async () =>
      json<{ device: string; user: string }>(
        userStore,
        "bind",
        address,
        "--expect-handle",
        deviceHandle,
        ...(await pairingCode(deviceStore, inputs, { cwd, env })),
      ),
    userParty: async () => {
      const { wrapped } = await json<{ wrapped: string }>(userStore, "export", "--wrap-key", wrapKey);
      const identifier = unwrapWithPadding(readFileSync(wrapKey), Buffer.from(wrapped, "hex"));
      try {
        return partyOf(deriveKeys(identifier, ["ed25519", "x25519"]) as BindingKeys);
      } finally {
        identifier.fill(0);
      }
    },
    deviceUsers: async () =>
      (await json<{ bindings: { role: string; handle: string }[] }>(deviceStore, "bindings")).bindings
        .filter((b) => b.role === "user")
        .map((b) => b.handle),
    assertRefused: async (party, counter, what) => {
      const command = signCommand(party, {
        device: deviceHandle,
        counter,
        time: Date.now(),
        name: "light",
        args: ["on"],
      });
      const error = await sendCommand(address, asDevice, command).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(error instanceof ReidError, `${what}: the device accepted it`);
      assert.equal(error.exitCode, ExitCode.auth, `${what}: ${error.message}`);
      assert.equal(error.code, "unbound", `${what}: ${error.message}`);
    },
    stop: async () => {
      if (userDaemon) await stopCleanly(userDaemon);
      await stopCleanly(deviceDaemon);
    },
  };
}

/** Nothing in the working directory, nothing new beside the stores, and the files each store keeps in it. */
function checkNothingOutside(parties: Parties): void {
  const { cwd, dir, userStore, deviceStore, besideStores } = parties;
  assert.deepEqual(readdirSync(cwd), [], "something was written into the working directory");
  assert.deepEqual(readdirSync(dir).sort(), besideStores, "something new appeared next to the stores");
  for (const [store, file] of [
    [userStore, "bindings.json"],
    [userStore, "audit.log"],
    [deviceStore, "bindings.json"],
  ] as const) {
    assert.ok(existsSync(join(store, file)), `${file} is not in ${store}`);
  }
}
