// The CLI on the PKCS#11 backend (SoftHSM2): --pkcs11 / REID_PKCS11 as global options, what the
// store remembers, the token's generator as --source, the user PIN's ways in (file, variable naming
// a file, the prompt), one store per token, and a lost token, module or objects as exit 6.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertOneLineError, type CliResult, REID, reid } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { SOFTHSM_MODULE, type SoftHsmToken } from "../helpers/softhsm.js";
import { tempDir } from "../helpers/temp.js";
import { onTerminal } from "../helpers/terminal.js";
import { areaObjects, softhsm } from "../storage/pkcs11-fixture.js";

async function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return reid(args, { env: { ...(await softhsm()).env, ...env } });
}

async function ok(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const result = await run(args, env);
  assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}

async function statusOf(store: string, env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  return JSON.parse((await ok(["--store", store, "--json", "status"], env)).stdout) as Record<
    string,
    unknown
  >;
}

/** The error code of a failed --json run, after the one-line check. */
function errorCode(result: CliResult, exitCode: number, pattern?: RegExp): string {
  assertOneLineError(result, exitCode, pattern);
  return (JSON.parse(result.stderr) as { error: { code: string } }).error.code;
}

/** The spec without pin-file=: the PIN must come from elsewhere. */
function bare(token: SoftHsmToken, module = SOFTHSM_MODULE): string {
  return `module=${module},token=${token.label}`;
}

describe("reid --pkcs11", () => {
  test("help shows --pkcs11 as a global option, its syntax and variable, and pkcs11 among the sources", async () => {
    const help = (await ok(["help"])).stdout;
    assert.match(help, /^usage: reid .*\[--pkcs11 SPEC\].*\|pkcs11\|pkcs11\+os\|/m);
    assert.match(help, /^PKCS#11: --pkcs11 module=PATH,token=LABEL\[,pin-file=FILE\]$/m);
    assert.match(help, /^ +\(or \$REID_PKCS11\): the PKCS#11 backend holds the identifier/m);
    assert.match(help, /^ {2}reid --pkcs11 SPEC \[--json\] pkcs11 info$/m);
  });

  test("the store remembers its token: later commands need no --pkcs11, status names token and source, info and random find it", async (t) => {
    const token = await (await softhsm()).token();
    const { store } = tempDir(t);
    await ok(["--store", store, "--pkcs11", token.spec, "init"]);
    const remembered = JSON.parse(readFileSync(join(store, "store.json"), "utf8"));
    assert.deepEqual([remembered.backend, remembered.spec], ["pkcs11", token.spec]);
    const status = await statusOf(store);
    assert.deepEqual([status.state, status.generation], ["set", 1]);
    assert.equal(
      status.source,
      "pkcs11+os",
      "the PKCS#11 backend defaults to the token's generator mixed with the OS",
    );
    assert.equal(status.store, store, "status names the store directory");
    assert.equal(status.backend, `PKCS#11 token '${token.label}' (module ${SOFTHSM_MODULE})`);
    await ok(["--store", store, "reset"]);
    assert.equal((await statusOf(store)).generation, 2);
    // REID_PKCS11 works like --pkcs11.
    assert.equal((await statusOf(store, { REID_PKCS11: token.spec })).generation, 2);
    // pkcs11 info and random find the token through the store; random draws on pkcs11+os.
    assert.match(
      (await ok(["--store", store, "pkcs11", "info"])).stdout,
      /^reid-area-[01] {3}reid's, holds a record$/m,
    );
    assert.equal((await ok(["--store", store, "random", "--bytes", "64"])).stdoutBytes.length, 64);
  });

  test("the token's user PIN is the gate: pkcs11-tool without a login neither lists nor reads reid's objects; status says so", async (t) => {
    const token = await (await softhsm()).token();
    const { store } = tempDir(t);
    await ok(["--store", store, "--pkcs11", token.spec, "init"]);
    const status = await statusOf(store);
    assert.equal(status.protectedBy, "token-pin");
    assert.match((await ok(["--store", store, "status"])).stdout, /^protected +by the token's user PIN/m);
    const listed = await token.userTool(["--list-objects", "--type", "data"]);
    const label = /label:\s+'(reid-area-[01])'/.exec(listed.toString())?.[1];
    assert.ok(label, "logged in, pkcs11-tool does not list reid's object");
    assert.equal((await token.userTool(["--read-object", "--type", "data", "--label", label])).length, 256);
    // Without the user PIN: the private object is not even listed, and cannot be read.
    assert.doesNotMatch((await token.tool(["--list-objects", "--type", "data"])).toString(), /reid-area-/);
    await assert.rejects(token.tool(["--read-object", "--type", "data", "--label", label]));
  });

  test("--source pkcs11, pkcs11+os and os are honoured and shown; pkcs11 needs the PKCS#11 backend", async (t) => {
    for (const source of ["pkcs11", "pkcs11+os", "os"]) {
      const token = await (await softhsm()).token();
      const { store } = tempDir(t);
      await ok(["--store", store, "--pkcs11", token.spec, "--source", source, "init"]);
      assert.equal((await statusOf(store)).source, "pkcs11+os", "status shows the default without --source");
      assert.equal((await statusOf(store, { REID_SOURCE: source })).source, source);
      const hex = (await ok(["--store", store, "--source", source, "random", "--bytes", "32", "--hex"]))
        .stdout;
      assert.match(hex, /^[0-9a-f]{64}\n$/);
    }
    const { store } = tempDir(t);
    assertOneLineError(
      await run(["--store", store, "--source", "pkcs11", "init"]),
      2,
      /--source pkcs11 needs the PKCS#11 backend \(--pkcs11\)/,
    );
    assert.ok(!existsSync(store), "a refused init made the store");
  });

  test("the user PIN: from REID_PKCS11_PIN_FILE, or asked at a terminal; without either exit 4, and never shown", async (t) => {
    const token = await (await softhsm()).token();
    const { store } = tempDir(t);
    await ok(["--store", store, "--pkcs11", bare(token), "init"], { REID_PKCS11_PIN_FILE: token.pinFile });
    assert.equal((await statusOf(store, { REID_PKCS11_PIN_FILE: token.pinFile })).generation, 1);
    const none = await run(["--store", store, "--json", "status"]);
    assert.equal(errorCode(none, 4, /pin-file=FILE.*REID_PKCS11_PIN_FILE/), "pkcs11-pin-required");
    // At a terminal the CLI asks, without echoing what is typed.
    const asked = await onTerminal(
      [process.execPath, REID, "--store", store, "reset"],
      [[`user PIN of token '${token.label}': `, `${token.pin}\r`]],
      (await softhsm()).env,
    );
    assert.equal(asked.code, 0, asked.screen);
    assert.match(asked.screen, /\nreset: generation 2, handle [0-9a-f]{32}/);
    assert.ok(!asked.screen.includes(token.pin), "the PIN was echoed");
    const wrong = await onTerminal(
      [process.execPath, REID, "--store", store, "status"],
      [[`user PIN of token '${token.label}': `, `not-${token.pin}\r`]],
      (await softhsm()).env,
    );
    assert.equal(wrong.code, 4, wrong.screen);
    assert.match(wrong.screen, /CKR_PIN_INCORRECT/);
    assert.ok(!wrong.screen.includes(token.pin), "the PIN was shown");
  });

  test("a store never mixes backends: files refuses --pkcs11, a token store refuses another token and --tpm", async (t) => {
    const token = await (await softhsm()).token();
    const { dir } = tempDir(t);
    const files = join(dir, "files");
    await ok(["--store", files, "init"]);
    assertOneLineError(
      await run(["--store", files, "--pkcs11", token.spec, "status"]),
      2,
      /keeps its identifier with the files backend, not the PKCS#11 backend \(--pkcs11\)/,
    );
    const onToken = join(dir, "token");
    await ok(["--store", onToken, "--pkcs11", token.spec, "init"]);
    const other = await (await softhsm()).token();
    assertOneLineError(
      await run(["--store", onToken, "--pkcs11", other.spec, "status"]),
      2,
      new RegExp(`keeps its identifier at module=.*,token=${token.label}`),
    );
    assertOneLineError(
      await run(["--store", onToken, "--tpm", "swtpm:host=127.0.0.1,port=2321", "status"]),
      2,
      /keeps its identifier with the PKCS#11 backend \(--pkcs11\), not the TPM backend \(--tpm\)/,
    );
    assertOneLineError(
      await run(["--store", onToken, "--pkcs11", token.spec, "--tpm", "swtpm:port=2321", "status"]),
      2,
      /a store has one backend: give only one of --tpm, --pkcs11/,
    );
    assert.equal((await statusOf(onToken)).generation, 1);
  });

  test("a lost module, token or objects is exit 6, never a new blank element", async (t) => {
    const hsm = await softhsm();
    const { dir } = tempDir(t);
    // The module through a link, so it can go away.
    const link = join(dir, "libtoken.so");
    symlinkSync(SOFTHSM_MODULE, link);
    const token = await hsm.token();
    const moduleStore = join(dir, "module");
    await ok(["--store", moduleStore, "--pkcs11", `${bare(token, link)},pin-file=${token.pinFile}`, "init"]);
    rmSync(link);
    const noModule = await run(["--store", moduleStore, "--json", "status"]);
    assert.equal(errorCode(noModule, 6, /cannot load the PKCS#11 module/), "pkcs11-module-missing");

    const objectsStore = join(dir, "objects");
    const emptied = await hsm.token();
    await ok(["--store", objectsStore, "--pkcs11", emptied.spec, "init"]);
    await ok(["--store", objectsStore, "reset"]);
    for (const label of ["reid-area-0", "reid-area-1"]) {
      if ((await areaObjects(emptied)).some((object) => object.startsWith(`${label}:`))) {
        await emptied.userTool(["--delete-object", "--type", "data", "--label", label]);
      }
    }
    assert.deepEqual(await areaObjects(emptied), [], "the objects are still there");
    for (const args of [["status"], ["reset"], ["init"]]) {
      const lost = await run(["--store", objectsStore, "--json", ...args]);
      assert.equal(errorCode(lost, 6, /no longer holds either of its areas/), "store-lost", args.join(" "));
    }

    const tokenStore = join(dir, "token");
    const gone = await hsm.token();
    await ok(["--store", tokenStore, "--pkcs11", gone.spec, "init"]);
    await deleteToken(gone);
    const noToken = await run(["--store", tokenStore, "--json", "status"]);
    assert.equal(
      errorCode(noToken, 6, new RegExp(`no token labelled '${gone.label}'`)),
      "pkcs11-token-missing",
    );
  });
});

describe("one store per token", () => {
  test("a second store directory naming the same token is refused (exit 3, store-owned); the first store and the token are untouched", async (t) => {
    const token = await (await softhsm()).token();
    const { dir } = tempDir(t);
    const owner = join(dir, "owner");
    const other = join(dir, "other");
    await ok(["--store", owner, "--pkcs11", token.spec, "init"]);
    const before = await statusOf(owner);
    const audit = readFileSync(join(owner, "audit.log"));
    const objects = await areaObjects(token);
    mkdirSync(other, { mode: 0o700 });
    // Someone else points a new store directory at the same token: every request is refused,
    // naming the store that owns its objects.
    for (const args of [["init"], ["reset"], ["erase"], ["status"], ["keys"]]) {
      const refused = await run(["--store", other, "--pkcs11", token.spec, "--json", ...args]);
      const code = errorCode(refused, 3);
      const { message } = (JSON.parse(refused.stderr) as { error: { message: string } }).error;
      assert.equal(code, "store-owned", `${args.join(" ")}: ${message}`);
      assert.ok(message.includes(`the store at ${owner}`), message);
      assert.ok(message.includes(`PKCS#11 token '${token.label}'`), message);
      assert.match(message, /token= in --pkcs11/);
    }
    assert.ok(!existsSync(join(other, "store.json")), "the refused directory remembers the owner's place");
    const after = await statusOf(owner);
    assert.deepEqual(
      [after.state, after.generation, after.handle],
      [before.state, before.generation, before.handle],
    );
    assert.ok(readFileSync(join(owner, "audit.log")).equals(audit), "the owner's audit log changed");
    assert.deepEqual(await areaObjects(token), objects, "a refused store changed the token's objects");
    // The owner goes on as before.
    await ok(["--store", owner, "reset"]);
    assert.equal((await statusOf(owner)).generation, 2);
  });
});

/** Removes the token from SoftHSM2's token directory, as softhsm2-util does. */
async function deleteToken(token: SoftHsmToken): Promise<void> {
  const child = spawn("softhsm2-util", ["--delete-token", "--token", token.label], {
    env: (await softhsm()).env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result = await finished(child);
  assert.equal(result.code, 0, result.stderr.toString());
}
