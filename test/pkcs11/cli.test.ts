// `reid pkcs11 info` on a real SoftHSM2 token: what it shows of module, token and reid's objects,
// in text and JSON, and every kind of bad input as one line with its exit code and no PIN.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { run } from "../../src/cli/run.js";
import { assertOneLineError, reid } from "../helpers/cli.js";
import { SOFTHSM_MODULE } from "../helpers/softhsm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { setRecord } from "../storage/conformance.js";
import { pkcs11Fixture, softhsm } from "../storage/pkcs11-fixture.js";

interface Report {
  readonly module: string;
  readonly library: { readonly manufacturer: string; readonly version: string };
  readonly token: { readonly label: string; readonly serial: string; readonly model: string };
  readonly state: Record<string, boolean>;
  readonly requirements: readonly { readonly what: string; readonly ok: boolean }[];
  readonly objects: readonly { readonly label: string; readonly state: string; readonly detail: string }[];
}

async function info(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return reid(["pkcs11", "info", ...args], { env: { ...(await softhsm()).env, ...env } });
}

async function infoJson(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Report> {
  const result = await info([...args, "--json"], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Report;
}

const states = (report: Report) => report.objects.map((o) => o.state);

/** Everything written to `stream` until it ends. */
async function collect(stream: PassThrough): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  return text;
}

describe("reid pkcs11 info", () => {
  test("shows module, library, token and flags, that C_GenerateRandom works, and whether reid's objects are free, reid's or foreign", async (t) => {
    const fixture = await pkcs11Fixture(t);
    const { token } = fixture;
    const fresh = await infoJson(["--pkcs11", token.spec]);
    assert.equal(fresh.module, SOFTHSM_MODULE);
    assert.equal(fresh.library.manufacturer, "SoftHSM");
    assert.equal(fresh.token.label, token.label);
    assert.equal(fresh.token.model, "SoftHSM v2");
    assert.match(fresh.token.serial, /^[0-9a-f]{16}$/);
    assert.equal(fresh.state.initialized, true);
    assert.equal(fresh.state.userPinLocked, false);
    assert.ok(fresh.requirements.every((r) => r.ok));
    assert.ok(fresh.requirements.some((r) => r.what.startsWith("C_GenerateRandom")));
    assert.deepEqual(states(fresh), ["free", "free"]);

    const store = await fixture.open();
    try {
      await store.commit(setRecord(1));
    } finally {
      await store.close();
    }
    // The variable works like the option.
    const set = await infoJson([], { REID_PKCS11: token.spec });
    assert.deepEqual(states(set), ["reid", "free"]);
    assert.equal(set.objects[0]?.detail, "reid's, holds a record");

    const { dir } = tempDir(t);
    const file = secretFile(dir, "value", randomBytes(256));
    await token.userTool(["--write-object", file, "--type", "data", "--label", "reid-area-1"]);
    const text = await info(["--pkcs11", token.spec]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^module {8}\/usr\/lib\/softhsm\/libsofthsm2\.so$/m);
    assert.match(text.stdout, new RegExp(`^token {9}${token.label}$`, "m"));
    assert.match(text.stdout, /^ok {12}C_GenerateRandom of 32 bytes$/m);
    assert.match(text.stdout, /^reid-area-0 {3}reid's, holds a record$/m);
    assert.match(text.stdout, /^reid-area-1 {3}someone else's: it is not private/m);

    // Without a PIN the private objects cannot be seen: reported unchecked, not free.
    const blind = await infoJson(["--pkcs11", `module=${SOFTHSM_MODULE},token=${token.label}`]);
    assert.deepEqual(states(blind), ["unchecked", "unchecked"]);
  });

  test("a wrong user PIN is exit 4 in one line, no PIN in any output, and the token then reports its count low", async (t) => {
    const token = await (await softhsm()).token();
    const { dir } = tempDir(t);
    const wrong = `wrong-${randomBytes(6).toString("hex")}`;
    const spec = `module=${SOFTHSM_MODULE},token=${token.label},pin-file=${secretFile(dir, "wrong.pin", wrong)}`;
    for (const json of [false, true]) {
      const result = await info(["--pkcs11", spec, ...(json ? ["--json"] : [])]);
      assertOneLineError(result, 4, /CKR_PIN_INCORRECT/);
      for (const pin of [wrong, token.pin]) {
        assert.ok(!result.stdout.includes(pin) && !result.stderr.includes(pin), "a PIN is in the output");
      }
    }
    // Read without logging in, the flags show the wrong tries; a right PIN clears them.
    const bare = `module=${SOFTHSM_MODULE},token=${token.label}`;
    assert.equal(
      (await infoJson(["--pkcs11", bare])).state.userPinCountLow,
      true,
      "SoftHSM2 did not flag the wrong tries",
    );
    assert.match((await info(["--pkcs11", bare])).stdout, /^user PIN {6}count low/m);
    await infoJson(["--pkcs11", token.spec]);
    assert.equal((await infoJson(["--pkcs11", bare])).state.userPinCountLow, false);
    assert.match((await info(["--pkcs11", bare])).stdout, /^user PIN {6}set$/m);
  });

  test("reads the environment the CLI is given, not the process's own: REID_PKCS11 and REID_PKCS11_PIN_FILE", async () => {
    const token = await (await softhsm()).token();
    for (const name of ["REID_PKCS11", "REID_PKCS11_PIN_FILE"]) {
      assert.equal(process.env[name], undefined, `${name} is set in the test process`);
    }
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const [out, err] = [collect(stdout), collect(stderr)];
    const code = await run({
      argv: ["--json", "pkcs11", "info"],
      env: {
        REID_PKCS11: `module=${SOFTHSM_MODULE},token=${token.label}`,
        REID_PKCS11_PIN_FILE: token.pinFile,
      },
      stdout,
      stderr,
    });
    stdout.end();
    stderr.end();
    assert.equal(code, 0, await err);
    // Checked, not "unchecked": the PIN file came from the given environment too.
    assert.deepEqual(states(JSON.parse(await out) as Report), ["free", "free"]);
  });

  test("bad input: no token given, bad spec text (exit 2); a missing module or token (exit 6); each in one line", async (t) => {
    const token = await (await softhsm()).token();
    const { dir } = tempDir(t);
    assertOneLineError(await info([]), 2, /no PKCS#11 token: give --pkcs11/);
    assertOneLineError(await info(["--pkcs11", "token=x"]), 2, /module= is missing/);
    assertOneLineError(await info(["--pkcs11", "module=lib.so,token=x"]), 2, /absolute path/);
    assertOneLineError(await reid(["pkcs11", "list"]), 2, /unknown 'reid pkcs11' action 'list'/);
    assertOneLineError(
      await info(["--pkcs11", `module=${dir}/none.so,token=${token.label}`]),
      6,
      /cannot load the PKCS#11 module/,
    );
    assertOneLineError(
      await info(["--pkcs11", `module=${SOFTHSM_MODULE},token=absent`]),
      6,
      /no token labelled 'absent'/,
    );
    assertOneLineError(
      await info(["--pkcs11", `module=${SOFTHSM_MODULE},token=absent`, "--json"]),
      6,
      /no token labelled 'absent'/,
    );
  });
});
