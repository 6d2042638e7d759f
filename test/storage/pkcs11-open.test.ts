// Opening the PKCS#11 backend: where the user PIN may come from, what a wrong one, a missing
// module or a missing token give (one line, the exit code, no PIN), the lock shared however the
// module is named, and the native code loading only when a store opens (never for a files store).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  AuthError,
  ExitCode,
  NoTerminalError,
  ReidError,
  StorageError,
  UsageError,
} from "../../src/errors.js";
import type { BackendOpenOptions, OpenedBackend } from "../../src/storage/backend.js";
import { backend } from "../../src/storage/pkcs11/backend.js";
import { reidOk } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { SOFTHSM_MODULE, type SoftHsmToken } from "../helpers/softhsm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { softhsm } from "./pkcs11-fixture.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function open(spec: string, options: Partial<BackendOpenOptions> = {}): Promise<OpenedBackend> {
  return backend.open(".", backend.parse(spec), { write: true, lockTimeoutMs: 2000, env: {}, ...options });
}

async function closeBoth(opened: OpenedBackend): Promise<void> {
  await opened.area.close();
  await opened.close();
}

/** The failure of `attempt`, which must fail. */
async function failure(attempt: Promise<OpenedBackend>): Promise<ReidError> {
  const error = await attempt.then(
    async (opened) => {
      await closeBoth(opened);
      return null;
    },
    (e: unknown) => e,
  );
  assert.ok(error instanceof ReidError, `expected a ReidError, got ${String(error)}`);
  assert.doesNotMatch(error.message, /\n/, "the message is more than one line");
  return error;
}

function specWithout(token: SoftHsmToken): string {
  return `module=${SOFTHSM_MODULE},token=${token.label}`;
}

test("a wrong user PIN is exit 4 in one line naming the return value, never a PIN; a PIN file others can read is exit 2", async (t) => {
  const token = await (await softhsm()).token();
  const { dir } = tempDir(t);
  const wrong = `wrong-${token.pin}`;
  const wrongFile = secretFile(dir, "wrong.pin", wrong);
  const error = await failure(open(`${specWithout(token)},pin-file=${wrongFile}`));
  assert.ok(error instanceof AuthError, `a wrong PIN is not an auth failure: ${error.message}`);
  assert.equal(error.exitCode, ExitCode.auth);
  assert.equal(error.code, "pkcs11-pin-incorrect");
  assert.match(error.message, /C_Login on PKCS#11 token 'reid-test-\d+'.*CKR_PIN_INCORRECT/);
  assert.ok(!error.message.includes(wrong) && !error.message.includes(token.pin), "a PIN is in the message");

  chmodSync(wrongFile, 0o644);
  const exposed = await failure(open(`${specWithout(token)},pin-file=${wrongFile}`));
  assert.ok(exposed instanceof UsageError);
  assert.equal(exposed.exitCode, ExitCode.usage);
  assert.match(exposed.message, /readable by other users/);
});

test("the user PIN comes from pin-file=, else REID_PKCS11_PIN_FILE, else the prompt; with none of them exit 4", async (t) => {
  const token = await (await softhsm()).token();
  const { dir } = tempDir(t);
  const wrongFile = secretFile(dir, "wrong.pin", `not-${token.pin}`);
  // pin-file= of the spec first, whatever the variable says.
  await closeBoth(await open(token.spec, { env: { REID_PKCS11_PIN_FILE: wrongFile } }));
  await closeBoth(await open(specWithout(token), { env: { REID_PKCS11_PIN_FILE: token.pinFile } }));
  const asked: string[] = [];
  const prompt = async (label: string) => {
    asked.push(label);
    return token.pin;
  };
  await closeBoth(await open(specWithout(token), { prompt }));
  assert.equal(asked.length, 1);
  assert.match(asked[0] as string, new RegExp(`user PIN of token '${token.label}'`));
  // The variable names a file; its value is never a PIN.
  const none = await failure(open(specWithout(token), { env: { REID_PKCS11_PIN_FILE: "" } }));
  assert.equal(none.exitCode, ExitCode.auth);
  assert.equal(none.code, "pkcs11-pin-required");
  assert.match(none.message, /pin-file=FILE.*REID_PKCS11_PIN_FILE/);
  // The CLI's prompt with no terminal to ask at: the same advice, not the prompt's own refusal.
  const noTerminal = async () => {
    throw new NoTerminalError("cannot prompt for a secret: stdin is not a terminal");
  };
  const unasked = await failure(open(specWithout(token), { prompt: noTerminal }));
  assert.equal(unasked.exitCode, ExitCode.auth);
  assert.equal(unasked.code, "pkcs11-pin-required");
  // Any other failure of the prompt (Ctrl-C) is passed on as it is.
  const cancelled = async () => {
    throw new UsageError("cancelled at the prompt", "cancelled");
  };
  assert.equal((await failure(open(specWithout(token), { prompt: cancelled }))).code, "cancelled");
});

test("a missing module, a file that is no module, and a missing token are exit 6 naming what is missing", async (t) => {
  const token = await (await softhsm()).token();
  const { dir } = tempDir(t);
  const missing = await failure(open(`module=${join(dir, "libnothing.so")},token=${token.label}`));
  assert.ok(missing instanceof StorageError);
  assert.equal(missing.code, "pkcs11-module-missing");
  assert.match(missing.message, /cannot load the PKCS#11 module .*libnothing\.so: no such file/);
  const notAModule = secretFile(dir, "libtext.so", "not a shared object\n");
  const bad = await failure(open(`module=${notAModule},token=${token.label}`));
  assert.equal(bad.exitCode, ExitCode.storage);
  assert.equal(bad.code, "pkcs11-module-missing");
  const absent = await failure(open(`module=${SOFTHSM_MODULE},token=absent,pin-file=${token.pinFile}`));
  assert.equal(absent.exitCode, ExitCode.storage);
  assert.equal(absent.code, "pkcs11-token-missing");
  assert.match(absent.message, new RegExp(`no token labelled 'absent'.*it has .*'${token.label}'`));
});

test("one writer per token however the module is named: a link to the module waits for the same lock", async (t) => {
  const token = await (await softhsm()).token();
  const { dir } = tempDir(t);
  const link = join(dir, "link-to-softhsm.so");
  symlinkSync(SOFTHSM_MODULE, link);
  const first = await open(token.spec);
  try {
    const busy = await failure(
      open(`module=${link},token=${token.label},pin-file=${token.pinFile}`, { lockTimeoutMs: 100 }),
    );
    assert.equal(busy.code, "store-busy");
    assert.match(busy.message, new RegExp(`reid's objects on PKCS#11 token '${token.label}'.* is busy`));
  } finally {
    await closeBoth(first);
  }
  await closeBoth(await open(`module=${link},token=${token.label},pin-file=${token.pinFile}`));
});

test("the native binding and the module load only when a store opens, never to parse a spec", async () => {
  const hsm = await softhsm();
  const token = await hsm.token();
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/pkcs11-lazy.ts", token.spec], {
    cwd: ROOT,
    env: hsm.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result = await finished(child);
  assert.equal(result.code, 0, result.stderr.toString());
  const seen = JSON.parse(result.stdout.toString()) as Record<
    "parsed" | "open",
    Record<"binding" | "module", boolean>
  >;
  assert.deepEqual(seen.parsed, { binding: false, module: false }, "parsing a spec loaded native code");
  // The check can see a load: after the open both are mapped.
  assert.deepEqual(seen.open, { binding: true, module: true });
});

/** What native code a `reid` run had mapped when it exited, seen by a module it imports first. */
async function mappedByCli(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv) {
  const { dir } = tempDir(t);
  const probe = join(dir, "probe.mjs");
  const out = join(dir, "mapped.json");
  writeFileSync(
    probe,
    `import { readFileSync, writeFileSync } from "node:fs";
process.on("exit", () => {
  const maps = readFileSync("/proc/self/maps", "utf8");
  writeFileSync(${JSON.stringify(out)}, JSON.stringify({ binding: maps.includes("pkcs11.node"), module: maps.includes("libsofthsm2") }));
});
`,
  );
  await reidOk(args, { env: { ...env, NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` } });
  return JSON.parse(readFileSync(out, "utf8")) as Record<"binding" | "module", boolean>;
}

test("reid on a files store never loads the native binding, init and status alike; on a PKCS#11 store it does", async (t) => {
  const hsm = await softhsm();
  const token = await hsm.token();
  const { dir } = tempDir(t);
  const files = join(dir, "files");
  const none = { binding: false, module: false };
  assert.deepEqual(
    await mappedByCli(t, ["--store", files, "init"], hsm.env),
    none,
    "init loaded native code",
  );
  assert.deepEqual(
    await mappedByCli(t, ["--store", files, "status"], hsm.env),
    none,
    "status loaded native code",
  );
  // The probe can see a load: a PKCS#11 store's status leaves the binding mapped (the module
  // itself is unloaded again when the store closes).
  const onToken = join(dir, "token");
  await reidOk(["--store", onToken, "--pkcs11", token.spec, "init"], { env: hsm.env });
  assert.equal((await mappedByCli(t, ["--store", onToken, "status"], hsm.env)).binding, true);
});
