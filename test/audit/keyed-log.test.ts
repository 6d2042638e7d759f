// Issue 16, item 5: the audit log keyed by a key that lives in the TPM, in the token, or (the file
// store) in an owner secret `pin set` makes. As the attacker without the key: a record edited and
// the chain rebuilt consistently (every later prev and hash recomputed), or every MAC stripped, is
// reported by `log --verify` (exit 6, audit-forged); the same rebuild of a log never keyed passes,
// which is what the key adds. The intact log passes, naming where keying began; a log written
// before the key still verifies (its early records unkeyed); without the key there is "no key to
// check with" (exit 6, audit-key-missing). Each backend's key home is exercised. docs/spec.md §9.7.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { pinSecret, tpmAuthValue } from "../../src/auth/owner-secret.js";
import { AUDIT_KEY_FILE } from "../../src/storage/file/audit-key.js";
import { AUDIT_KEY_LABEL } from "../../src/storage/pkcs11/audit-key.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { type Line, readLog, rebuild } from "../helpers/audit-rebuild.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { softhsmForFile } from "../helpers/softhsm.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { nvPublic, readIndex } from "../helpers/tpm-nv.js";

const swtpm = swtpmForFile();
const softhsm = softhsmForFile();
let nextIndex = 0x01524e00;

interface Backend {
  readonly name: string;
  /** Global options for the first command, and the environment every command needs. */
  setup(t: TestContext): Promise<{
    options: string[];
    env: NodeJS.ProcessEnv;
    home: (store: string, pin: string) => Promise<void>;
  }>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: "file store: the owner secret in audit.key",
    async setup() {
      return {
        options: [],
        env: {},
        async home(store) {
          const key = JSON.parse(readFileSync(join(store, AUDIT_KEY_FILE), "utf8")) as {
            v: number;
            secret: string;
          };
          assert.equal(key.v, 1);
          assert.match(key.secret, /^[0-9a-f]{64}$/);
        },
      };
    },
  },
  {
    name: "TPM (swtpm): 32 random bytes in NV index I + 3 under the PIN's authValue, read through the encrypted session",
    async setup() {
      const sw = await swtpm();
      const index = nextIndex;
      nextIndex += 4;
      return {
        options: ["--tpm", `${sw.spec},nv-index=0x${index.toString(16).padStart(8, "0")}`],
        env: {},
        async home(store, pin) {
          const owner = JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as {
            pin: { salt: string };
          };
          const auth = tpmAuthValue(await pinSecret(pin, Buffer.from(owner.pin.salt, "hex")));
          const tpm = await connectTpm(sw.address, 10_000);
          try {
            const pub = await nvPublic(tpm, index + 3);
            assert.ok(pub, "no audit key index");
            const bytes = await readIndex(tpm, index + 3, undefined, auth);
            assert.equal(Buffer.from(bytes.subarray(0, 4)).toString("latin1"), "RAUK");
            assert.ok(
              bytes.subarray(16, 48).some((byte) => byte !== 0),
              "the key is zeros",
            );
          } finally {
            await tpm.close();
          }
        },
      };
    },
  },
  {
    name: "PKCS#11 (SoftHSM2): a non-extractable generic secret the token computes HMACs with",
    async setup() {
      const hsm = await softhsm();
      const token = await hsm.token();
      return {
        options: ["--pkcs11", token.spec],
        env: hsm.env,
        async home() {
          const listed = (await token.userTool(["--list-objects", "--type", "secrkey"])).toString("utf8");
          assert.match(listed, new RegExp(`label:\\s+${AUDIT_KEY_LABEL}`));
          assert.match(listed, /never extractable|sensitive/i, listed);
          // Its value cannot be read out of the token.
          const read = await token
            .userTool(["--read-object", "--type", "secrkey", "--label", AUDIT_KEY_LABEL])
            .then(
              () => "read",
              () => "refused",
            );
          assert.equal(read, "refused", "the audit key's value came out of the token");
        },
      };
    },
  },
];

function errorCode(result: CliResult): string {
  assertOneLineError(result, 6);
  return (JSON.parse(result.stderr) as { error: { code: string } }).error.code;
}

for (const backend of BACKENDS) {
  describe(backend.name, () => {
    async function keyedStore(t: TestContext) {
      const { dir, store } = tempDir(t);
      const { options, env, home } = await backend.setup(t);
      const pinText = "correct horse 1234";
      const pin = secretFile(dir, "pin", `${pinText}\n`);
      const run = (args: readonly string[]) => reid(["--store", store, ...args], { env });
      const ok = async (args: readonly string[]) => {
        const result = await run(args);
        assert.equal(result.code, 0, `reid ${args.join(" ")}: ${result.stderr.trim()}`);
        return result;
      };
      await ok([...options, "init"]);
      await ok(["reset"]);
      const before = readLog(store).length;
      await ok(["pin", "set", "--new-pin-file", pin]);
      await ok(["--pin-file", pin, "reset"]);
      await ok(["--pin-file", pin, "config", "single-type", "on"]);
      // The PIN opens the TPM's key (a key elsewhere needs none: it is not asked for then).
      const verify = () => run(["--pin-file", pin, "--json", "log", "--verify"]);
      return { store, before, run, ok, verify, home: (at: string) => home(at, pinText) };
    }

    test("pin set keys the log: records from its outcome on carry a MAC, the earlier ones none; --verify checks them", async (t) => {
      const s = await keyedStore(t);
      await s.home(s.store);
      const log = readLog(s.store);
      const keyed = log.filter((record) => record.mac !== undefined);
      assert.ok(keyed.length >= 3, `only ${keyed.length} keyed records`);
      const from = keyed[0]?.seq as number;
      assert.ok(from > s.before, "a record before pin set carries a MAC");
      assert.ok(
        log.every((record) => record.seq >= from === (record.mac !== undefined)),
        "keyed records are not contiguous to the end",
      );
      const result = await s.verify();
      assert.equal(result.code, 0, result.stderr);
      const verdict = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(verdict.intact, true);
      assert.equal(verdict.key, "checked");
      assert.equal(verdict.keyedFrom, from);
    });

    test("a record edited and the chain rebuilt without the key: audit-forged; a MAC-less rebuild too", async (t) => {
      const s = await keyedStore(t);
      const original = readFileSync(join(s.store, "audit.log"));
      const last = readLog(s.store).at(-1) as Line;
      // A keyed record's principal changed.
      rebuild(s.store, (r) => (r.seq === last.seq ? { ...r, principal: "web:pin" } : r));
      let result = await s.verify();
      assert.equal(errorCode(result), "audit-forged", result.stderr);
      assert.match(result.stderr, /has a MAC that does not match: edited by someone without the audit key/);
      // An unkeyed record before the key: the chain carries the edit into the first keyed record's MAC.
      writeFileSync(join(s.store, "audit.log"), original);
      rebuild(s.store, (r) => (r.seq === 1 ? { ...r, principal: "scheduler:cli" } : r));
      result = await s.verify();
      assert.equal(errorCode(result), "audit-forged", result.stderr);
      // Every MAC stripped: the log no longer claims a key, but the key says from where it keys.
      writeFileSync(join(s.store, "audit.log"), original);
      rebuild(s.store, ({ mac: _, ...r }) => r as Line);
      result = await s.verify();
      assert.equal(errorCode(result), "audit-forged", result.stderr);
      assert.match(result.stderr, /carries no MAC/);
      // The original passes again: the checks above read the log, not something else.
      writeFileSync(join(s.store, "audit.log"), original);
      assert.equal((await s.verify()).code, 0);
    });
  });
}

test("known-bad: without a key, the same rebuild of a log never keyed passes; with MACs and no key, no key to check with", async (t) => {
  const { store } = tempDir(t);
  const ok = async (args: readonly string[]) => {
    const result = await reid(["--store", store, ...args]);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  await ok(["init"]);
  await ok(["reset"]);
  rebuild(store, (r) => (r.seq === 1 ? { ...r, principal: "scheduler:cli" } : r));
  const unkeyed = await ok(["--json", "log", "--verify"]);
  assert.equal((JSON.parse(unkeyed.stdout) as { key: string }).key, "none");
  // Keyed, then the key removed: the chain holds, the MACs cannot be checked.
  const { dir } = tempDir(t);
  const pin = secretFile(dir, "pin", "correct horse 1234\n");
  await ok(["pin", "set", "--new-pin-file", pin]);
  await ok(["--pin-file", pin, "reset"]);
  rmSync(join(store, AUDIT_KEY_FILE));
  const result = await reid(["--store", store, "--json", "log", "--verify"]);
  assert.equal(errorCode(result), "audit-key-missing", result.stderr);
  assert.match(result.stderr, /no key to check them with/);
});
