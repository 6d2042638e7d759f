// The TPM enforces the owner, not only reid's process (docs/spec.md §2.8, §5.7): reid's NV indices
// are read and written with their own authValue, derived from the owner PIN, never with the owner
// hierarchy, and under the TPM's dictionary-attack lockout. Each test plays the attacker with
// tpm2-tools on a real swtpm of its own: the owner hierarchy reads nothing, the right authValue
// (made by reid's own derivation) reads the record, wrong ones lock the TPM and reid says so.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pinCheck, pinSecret, tpmAuthValue, wrapUnder } from "../../src/auth/owner-secret.js";
import { decodeArea } from "../../src/storage/record.js";
import { LEGACY_NV_ATTRIBUTES } from "../../src/storage/tpm/nv-area.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { startServe } from "../helpers/daemon.js";
import { type Swtpm, startSwtpm } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { readIndex, writeIndex } from "../helpers/tpm-nv.js";
import {
  authValueOf,
  lockoutCounter as countedFailures,
  hexIndex,
  nvread,
  nvreadUnderPin,
  tpm2,
  tpm2Ok,
} from "./tools.js";

const PIN = "correct horse 42";
const NEW_PIN = "battery staple 7";
const NV = 0x01524a00;

interface Setup {
  readonly swtpm: Swtpm;
  readonly dir: string;
  readonly store: string;
  readonly pinFile: string;
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  ok(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  json<T>(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<T>;
}

/** A swtpm of the test's own (its lockout counter is the test's) and a store on it. */
async function setup(t: import("node:test").TestContext): Promise<Setup> {
  const swtpm = await startSwtpm();
  t.after(() => swtpm.stop());
  const { dir, store } = tempDir(t);
  const pinFile = secretFile(dir, "pin", PIN);
  const spec = `${swtpm.spec},nv-index=${hexIndex(NV)}`;
  const run = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
    reid(["--store", store, "--tpm", spec, ...args], env ? { env } : {});
  const ok = async (args: readonly string[], env?: NodeJS.ProcessEnv) => {
    const result = await run(args, env);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  const json = async <T>(args: readonly string[], env?: NodeJS.ProcessEnv) =>
    JSON.parse((await ok(["--json", ...args], env)).stdout) as T;
  return { swtpm, dir, store, pinFile, run, ok, json };
}

/** The one of reid's two indices that tpm2_nvreadpublic shows written. */
async function writtenIndex(s: Setup): Promise<number> {
  const listed = (await tpm2(s.swtpm.tcti, ["tpm2_nvreadpublic"])).stdout.toString();
  const written = [NV, NV + 1].filter((index) =>
    new RegExp(`${hexIndex(index)}:[\\s\\S]*?attributes:[^\\n]*\\n[^\\n]*written`).test(listed),
  );
  assert.equal(written.length, 1, `one written index, not: ${listed}`);
  return written[0] as number;
}

/** The TPM's count of authorization failures of this setup's swtpm. */
function lockoutCounter(s: Setup): Promise<number> {
  return countedFailures(s.swtpm.tcti);
}

describe("reid's NV indices are the owner's, enforced by the TPM", () => {
  test("the owner hierarchy reads nothing; the index's authValue from the PIN reads the record", async (t) => {
    const s = await setup(t);
    await s.ok(["pin", "set"], { REID_PIN_NEW: PIN });
    await s.ok(["--pin-file", s.pinFile, "init"]);
    const status = await s.json<{ handle: string; protectedBy: string }>(["--pin-file", s.pinFile, "status"]);
    assert.equal(status.protectedBy, "tpm-pin");
    const index = await writtenIndex(s);

    const owner = await nvread(s.swtpm.tcti, index, ["-C", "o"]);
    assert.notEqual(owner.code, 0, "the owner hierarchy read reid's index");
    assert.match(owner.stderr, /0x149|authorization/i);

    const right = await nvreadUnderPin(s.swtpm.tcti, s.store, index, PIN);
    assert.equal(right.code, 0, right.stderr);
    const decoded = decodeArea(new Uint8Array(right.stdout));
    assert.ok(decoded.kind === "record" && decoded.record.state === "set");
    assert.equal(decoded.record.handle, status.handle);

    // reid without the PIN: a one-line refusal, and nothing sent that the TPM would count.
    const before = await lockoutCounter(s);
    assertOneLineError(
      await s.run(["status"]),
      4,
      /TPM keeps the identifier under the owner's authorization/,
    );
    assertOneLineError(await s.run(["keys"]), 4, /give the PIN/);
    assertOneLineError(await s.run(["bindings"]), 4, /give the PIN/);
    assert.match((await s.ok(["--pin-file", s.pinFile, "bindings"])).stdout, /no bindings/);
    assert.equal(await lockoutCounter(s), before, "reid sent an authorization it did not have");
    // A wrong PIN is refused by the gate before anything reaches the TPM.
    const wrong = secretFile(s.dir, "wrong", "not the pin");
    assertOneLineError(await s.run(["--pin-file", wrong, "status"]), 4, /wrong PIN/);
    assert.equal(await lockoutCounter(s), before);
  });

  test("wrong authValues trip the TPM's lockout; reid then says so in one line (exit 4, tpm-lockout)", async (t) => {
    const s = await setup(t);
    await s.ok(["pin", "set"], { REID_PIN_NEW: PIN });
    await s.ok(["--pin-file", s.pinFile, "init"]);
    const index = await writtenIndex(s);
    await tpm2Ok(s.swtpm.tcti, [
      "tpm2_dictionarylockout",
      "--setup-parameters",
      "--max-tries=2",
      "--recovery-time=600",
      "--lockout-recovery-time=600",
    ]);
    for (const guess of ["00", "0102030405060708"]) {
      const attempt = await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index), "-P", `hex:${guess}`]);
      assert.notEqual(attempt.code, 0, "a wrong authValue read the index");
    }
    assert.equal(await lockoutCounter(s), 2, "the TPM did not count the wrong authorizations");
    // Locked out: even the right authValue is refused, by the TPM itself.
    const right = await nvreadUnderPin(s.swtpm.tcti, s.store, index, PIN);
    assert.notEqual(right.code, 0);
    assert.match(right.stderr, /0x921|lockout/i);
    const refused = await s.run(["--pin-file", s.pinFile, "status"]);
    assertOneLineError(refused, 4, /dictionary-attack lockout/);
    const json = await s.run(["--json", "--pin-file", s.pinFile, "status"]);
    assert.equal(JSON.parse(json.stderr).error.code, "tpm-lockout");
    // Cleared with the lockout authorization, reid reads again.
    await tpm2Ok(s.swtpm.tcti, ["tpm2_dictionarylockout", "--clear-lockout"]);
    assert.equal((await s.json<{ state: string }>(["--pin-file", s.pinFile, "status"])).state, "set");
  });

  test("a PIN change keeps the identifier and moves the indices under the new PIN's authValue", async (t) => {
    const s = await setup(t);
    await s.ok(["init"]);
    const blank = await s.json<{ handle: string; protectedBy: string }>(["status"]);
    assert.equal(blank.protectedBy, "tpm-none", "before a PIN, status says the TPM protects nothing");
    assert.match((await s.ok(["status"])).stdout, /protected\s+NOT by the TPM/);
    const keys = (await s.ok(["--json", "keys"])).stdout;
    // Before a PIN the index's authValue is empty: anyone with the TPM reads it (status says so).
    const first = await writtenIndex(s);
    assert.equal((await nvread(s.swtpm.tcti, first, ["-C", hexIndex(first)])).code, 0);

    await s.ok(["pin", "set"], { REID_PIN_NEW: PIN });
    const set = await writtenIndex(s);
    assert.notEqual(set, first, "pin set did not move the record to the other index");
    assert.notEqual(
      (await nvread(s.swtpm.tcti, set, ["-C", hexIndex(set)])).code,
      0,
      "the empty authValue still reads",
    );
    const oldAuth = await authValueOf(s.store, PIN);
    assert.equal((await nvread(s.swtpm.tcti, set, ["-C", hexIndex(set), "-P", `hex:${oldAuth}`])).code, 0);
    assert.equal(
      JSON.parse(readFileSync(join(s.store, "owner.json"), "utf8")).nv,
      undefined,
      "the move is done",
    );

    await s.ok(["--pin-file", s.pinFile, "pin", "change"], { REID_PIN_NEW: NEW_PIN });
    const changed = await writtenIndex(s);
    assert.notEqual(changed, set);
    assert.notEqual(
      (await nvread(s.swtpm.tcti, changed, ["-C", hexIndex(changed), "-P", `hex:${oldAuth}`])).code,
      0,
      "the old PIN's authValue still reads",
    );
    const newAuth = await authValueOf(s.store, NEW_PIN);
    assert.equal(
      (await nvread(s.swtpm.tcti, changed, ["-C", hexIndex(changed), "-P", `hex:${newAuth}`])).code,
      0,
    );
    const newPin = secretFile(s.dir, "new-pin", NEW_PIN);
    const after = await s.json<{ handle: string; generation: number }>(["--pin-file", newPin, "status"]);
    assert.deepEqual([after.handle, after.generation], [blank.handle, 1], "the identifier changed");
    assert.equal((await s.ok(["--json", "--pin-file", newPin, "keys"])).stdout, keys);
  });

  for (const [next, args, env] of [
    ["the next commit", ["reset"], undefined],
    ["the next PIN change", ["pin", "change"], { REID_PIN_NEW: NEW_PIN }],
  ] as const) {
    test(`a PIN set cut off between owner.json and the commit: the new PIN reads the old index, and ${next} finishes the move`, async (t) => {
      const s = await setup(t);
      await s.ok(["init"]);
      const index = await writtenIndex(s);
      // What `pin set` leaves when it dies after writing owner.json: the new PIN's check, and the
      // previous (empty) authValue of the index still defined, kept under the new PIN.
      const salt = Buffer.alloc(16, 7);
      const secret = await pinSecret(PIN, salt);
      const { hash } = await import("@node-rs/argon2");
      const owner = {
        version: 2,
        pin: { salt: salt.toString("hex"), check: pinCheck(secret).toString("hex") },
        recovery: await hash("AAAA-BBBB-CCCC-DDDD-EEEE"),
        failures: 0,
        lastFailure: null,
        nv: { areas: [index - NV], previous: wrapUnder(secret, new Uint8Array(0)) },
      };
      writeFileSync(join(s.store, "owner.json"), JSON.stringify(owner), { mode: 0o600 });
      const before = await lockoutCounter(s);
      const status = await s.json<{ generation: number; protectedBy: string }>([
        "--pin-file",
        s.pinFile,
        "status",
      ]);
      assert.equal(status.generation, 1, "the new PIN does not read the index left under the old authValue");
      assert.equal(status.protectedBy, "tpm-none", "an index still under the empty authValue is protected");
      assert.equal(await lockoutCounter(s), before, "reid tried a wrong authValue");
      await s.ok(["--pin-file", s.pinFile, ...args], env);
      assert.equal(await lockoutCounter(s), before, "reid tried a wrong authValue");
      // A reset moves the record once; a PIN change first ends the move left, then moves it again.
      const moved = await writtenIndex(s);
      assert.equal(moved === index, env !== undefined, "the record is not where the moves leave it");
      assert.equal(
        JSON.parse(readFileSync(join(s.store, "owner.json"), "utf8")).nv,
        undefined,
        "the move is not done",
      );
      assert.notEqual(
        (await nvread(s.swtpm.tcti, moved, ["-C", hexIndex(moved)])).code,
        0,
        "the empty authValue still reads",
      );
      const auth = env ? await authValueOf(s.store, NEW_PIN) : tpmAuthValue(secret).toString("hex");
      assert.equal((await nvread(s.swtpm.tcti, moved, ["-C", hexIndex(moved), "-P", `hex:${auth}`])).code, 0);
    });
  }

  test("indices an earlier reid defined (ownerread|ownerwrite|no_da) still read, and the PIN moves them", async (t) => {
    const s = await setup(t);
    await s.ok(["init"]);
    const index = await writtenIndex(s);
    // As an earlier reid left them: the same record, in an owner index. (swtpm serves one client
    // at a time: reid's client and tpm2-tools take turns.)
    const withTpm = async <T>(task: (tpm: Tpm) => Promise<T>): Promise<T> => {
      const tpm = await connectTpm(s.swtpm.address, undefined, { sessions: "encrypted" });
      try {
        return await task(tpm);
      } finally {
        await tpm.close();
      }
    };
    const record = await withTpm((tpm) => readIndex(tpm, index));
    await tpm2Ok(s.swtpm.tcti, ["tpm2_nvundefine", "-C", "o", hexIndex(index)]);
    await withTpm((tpm) => writeIndex(tpm, index, record, LEGACY_NV_ATTRIBUTES));
    const legacy = await s.json<{ generation: number; protectedBy: string }>(["status"]);
    assert.deepEqual([legacy.generation, legacy.protectedBy], [1, "tpm-owner"]);
    assert.equal((await nvread(s.swtpm.tcti, index, ["-C", "o"])).code, 0);
    await s.ok(["pin", "set"], { REID_PIN_NEW: PIN });
    const moved = await writtenIndex(s);
    assert.notEqual(
      (await nvread(s.swtpm.tcti, moved, ["-C", "o"])).code,
      0,
      "the owner hierarchy still reads it",
    );
    const status = await s.json<{ generation: number; protectedBy: string }>([
      "--pin-file",
      s.pinFile,
      "status",
    ]);
    assert.deepEqual([status.generation, status.protectedBy], [1, "tpm-pin"]);
  });
});

describe("the daemon holds the TPM's authorization in memory only", () => {
  test("a request scheduled with the PIN runs at its time; after a restart without the PIN it waits for a proof", async (t) => {
    const s = await setup(t);
    await s.ok(["pin", "set"], { REID_PIN_NEW: PIN });
    await s.ok(["--pin-file", s.pinFile, "init"]);
    const daemon = await startServe(s.store);
    t.after(() => daemon.stop());
    const soon = () => new Date(Date.now() + 2500).toISOString();
    await s.ok(["--pin-file", s.pinFile, "reset", "--at", soon()]);
    await waitFor(async () => (await s.json<{ generation: number }>(["status"])).generation === 2);
    // Nothing of the PIN or the authValue is on disk: a daemon started afresh holds nothing.
    await daemon.stop();
    await s.ok(["--pin-file", s.pinFile, "reset", "--at", soon()]);
    const again = await startServe(s.store);
    t.after(() => again.stop());
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await waitFor(async () => /wait for the owner's PIN|waits for the owner's PIN/.test(again.stderr()));
    assertOneLineError(await s.run(["status"]), 4, /give the PIN/);
    // One request with the PIN proves the owner to the daemon: the waiting request runs.
    const proven = await s.json<{ generation: number; scheduled: unknown[] }>([
      "--pin-file",
      s.pinFile,
      "status",
    ]);
    assert.ok(proven.generation >= 2);
    await waitFor(async () => (await s.json<{ generation: number }>(["status"])).generation === 3);
    const audit = readFileSync(join(s.store, "audit.log"), "utf8");
    assert.doesNotMatch(audit, new RegExp(PIN));
    // The PIN given to `reid serve` once: requests without it read at once.
    await again.stop();
    const given = await startServe(s.store, { env: { REID_PIN: PIN } });
    t.after(() => given.stop());
    assert.equal((await s.json<{ generation: number }>(["status"])).generation, 3);
    assert.match((await s.ok(["keys"])).stdout, /^ed25519 /m);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
