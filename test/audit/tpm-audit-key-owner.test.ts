// The TPM's audit key bound to the owner (docs/spec.md §9.7, issue 16 items 2 and 5): K's NV index
// takes the areas' authValue, the PIN's, so another program on the same TPM reads K only with the
// PIN (the TPM counts its guesses); a process without the PIN appends its records without a MAC
// (the unkeyed tail), and the next process that holds the proof seals them before its own records.
// Each test plays the attacker: another program on the same swtpm with tpm2-tools, or someone who
// can write the store directory and rebuilds the chain. A key an earlier version left under the
// empty authValue moves under the PIN's at the next proof.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { type Line, readLog, rebuild } from "../helpers/audit-rebuild.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { type Swtpm, startSwtpm } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import {
  authValueOf,
  lockoutCounter as countedFailures,
  hexIndex,
  nvread,
  nvreadUnderPin,
  tpm2Ok,
} from "../tpm/tools.js";

const PIN = "correct horse 42";
const NV = 0x01524c00;

interface Setup {
  readonly swtpm: Swtpm;
  readonly dir: string;
  readonly store: string;
  readonly pinFile: string;
  run(args: readonly string[]): Promise<CliResult>;
  ok(args: readonly string[]): Promise<CliResult>;
}

/** A swtpm of the test's own, a store on it with a PIN set (which makes the key) and one reset. */
async function keyedStore(t: TestContext): Promise<Setup> {
  const swtpm = await startSwtpm();
  t.after(() => swtpm.stop());
  const { dir, store } = tempDir(t);
  const pinFile = secretFile(dir, "pin", PIN);
  const spec = `${swtpm.spec},nv-index=${hexIndex(NV)}`;
  const run = (args: readonly string[]) => reid(["--store", store, "--tpm", spec, ...args]);
  const ok = async (args: readonly string[]) => {
    const result = await run(args);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  await ok(["init"]);
  await ok(["pin", "set", "--new-pin-file", pinFile]);
  await ok(["--pin-file", pinFile, "reset"]);
  return { swtpm, dir, store, pinFile, run, ok };
}

/** K's index, as store.json records it. */
function keyIndex(store: string): number {
  const file = JSON.parse(readFileSync(join(store, "store.json"), "utf8")) as { nv: { auditKey: string } };
  return Number.parseInt(file.nv.auditKey.slice(2), 16);
}

/** The TPM's count of authorization failures of this setup's swtpm. */
function lockoutCounter(s: Setup): Promise<number> {
  return countedFailures(s.swtpm.tcti);
}

async function verify(s: Setup): Promise<CliResult> {
  return s.run(["--pin-file", s.pinFile, "--json", "log", "--verify"]);
}

describe("the TPM's audit key is the owner's", () => {
  test("another program on the TPM reads K's index only with the PIN's authValue; its guesses count toward the lockout", async (t) => {
    const s = await keyedStore(t);
    const index = keyIndex(s.store);
    // The empty authValue (what the index had before) and the owner hierarchy: both refused.
    const empty = await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index)]);
    assert.notEqual(empty.code, 0, "K's index read with the empty authValue");
    const owner = await nvread(s.swtpm.tcti, index, ["-C", "o"]);
    assert.notEqual(owner.code, 0, "the owner hierarchy read K's index");
    const right = await nvreadUnderPin(s.swtpm.tcti, s.store, index, PIN);
    assert.equal(right.code, 0, right.stderr);
    assert.equal(Buffer.from(right.stdout.subarray(0, 4)).toString("latin1"), "RAUK");
    // Each wrong guess is counted by the TPM, as for the areas (the empty one above was one).
    const before = await lockoutCounter(s);
    assert.ok(before >= 1, "the TPM did not count the empty authValue");
    const guess = await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index), "-P", "hex:0102030405060708"]);
    assert.notEqual(guess.code, 0);
    assert.equal(await lockoutCounter(s), before + 1, "the TPM did not count a wrong authValue");
  });

  test("a refusal without the PIN leaves an unkeyed tail; the next proven operation seals it; edits before the seal are forged", async (t) => {
    const s = await keyedStore(t);
    // Without the PIN: refused (one record, no MAC: this process cannot read K).
    assertOneLineError(await s.run(["reset"]), 4, /PIN/);
    const refused = readLog(s.store).at(-1) as Line;
    assert.equal(refused.outcome, "pin-required");
    assert.equal(refused.mac, undefined, "a process without the PIN keyed its record");
    let result = await verify(s);
    assert.equal(result.code, 0, result.stderr);
    let verdict = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual([verdict.key, verdict.unkeyedTail], ["checked", 1]);
    const text = await s.run(["--pin-file", s.pinFile, "log", "--verify"]);
    assert.match(text.stdout, /the last 1 unkeyed \(appended without the PIN, not checked\)/);
    // Without the PIN, the MACs cannot be checked: said, exit 4, not "intact".
    assertOneLineError(await s.run(["log", "--verify"]), 4, /audit key is under the owner's PIN/);

    // An edit in the tail (whoever writes the directory can): reported as the tail, never as checked.
    const original = readFileSync(join(s.store, "audit.log"));
    rebuild(s.store, (r) => (r.seq === refused.seq ? { ...r, principal: "web:pin" } : r));
    result = await verify(s);
    assert.equal(result.code, 0, result.stderr);
    verdict = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(verdict.unkeyedTail, 1);
    writeFileSync(join(s.store, "audit.log"), original);

    // The next proven operation seals the tail before its own records.
    await s.ok(["--pin-file", s.pinFile, "reset"]);
    const log = readLog(s.store);
    const seal = log.find((r) => r.seq === refused.seq + 1) as Line;
    assert.equal(seal.request, "audit-seal");
    assert.deepEqual(seal.detail, { covers: 1 });
    assert.ok(seal.mac, "the seal carries no MAC");
    assert.ok(
      log.filter((r) => r.seq > seal.seq).every((r) => r.mac),
      "records after the seal are unkeyed",
    );
    result = await verify(s);
    assert.equal(result.code, 0, result.stderr);
    verdict = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(verdict.key, "checked");
    assert.equal(verdict.unkeyedTail, undefined);

    // The sealed refusal edited and the chain rebuilt: the seal's MAC no longer matches.
    const sealed = readFileSync(join(s.store, "audit.log"));
    rebuild(s.store, (r) => (r.seq === refused.seq ? { ...r, outcome: "wrong-pin" } : r));
    result = await verify(s);
    assertOneLineError(result, 6);
    assert.equal(JSON.parse(result.stderr).error.code, "audit-forged");
    assert.match(result.stderr, new RegExp(`seq ${seal.seq}\\) has a MAC that does not match`));
    // Every MAC stripped: the commits' records are keyed (only a proven process commits), so the
    // keyed part cannot be passed off as a tail.
    writeFileSync(join(s.store, "audit.log"), sealed);
    rebuild(s.store, ({ mac: _, ...r }) => r as Line);
    result = await verify(s);
    assert.equal(JSON.parse(result.stderr).error.code, "audit-forged", result.stderr);
    assert.match(result.stderr, /carries no MAC/);
    writeFileSync(join(s.store, "audit.log"), sealed);
    assert.equal((await verify(s)).code, 0);
  });

  test("a key an earlier version left under the empty authValue keeps keying, and moves under the PIN's at the next proof", async (t) => {
    const s = await keyedStore(t);
    const index = keyIndex(s.store);
    const auth = await authValueOf(s.store, PIN);
    // The earlier version's layout: the same contents under the empty authValue, store.json
    // without `auditKeyAuth`.
    const contents = (
      await tpm2Ok(s.swtpm.tcti, [
        "tpm2_nvread",
        "-C",
        hexIndex(index),
        "-P",
        `hex:${auth}`,
        "-s",
        "256",
        hexIndex(index),
      ])
    ).stdout;
    await tpm2Ok(s.swtpm.tcti, ["tpm2_nvundefine", "-C", "o", hexIndex(index)]);
    await tpm2Ok(s.swtpm.tcti, [
      "tpm2_nvdefine",
      "-C",
      "o",
      "-s",
      "256",
      "-a",
      "authread|authwrite",
      hexIndex(index),
    ]);
    await tpm2Ok(s.swtpm.tcti, ["tpm2_nvwrite", "-C", hexIndex(index), "-i", "-", hexIndex(index)], contents);
    const storeFile = join(s.store, "store.json");
    const file = JSON.parse(readFileSync(storeFile, "utf8")) as { nv: Record<string, unknown> };
    assert.equal(file.nv.auditKeyAuth, "pin");
    delete file.nv.auditKeyAuth;
    writeFileSync(storeFile, `${JSON.stringify(file)}\n`);
    assert.equal(
      (await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index)])).code,
      0,
      "the layout was not made",
    );

    // Without the PIN it still keys (as the earlier version did): no tail.
    assertOneLineError(await s.run(["reset"]), 4, /PIN/);
    assert.ok((readLog(s.store).at(-1) as Line).mac, "the earlier version's key no longer keys");
    // The next proof moves it: the empty authValue no longer reads it, the PIN's does.
    await s.ok(["--pin-file", s.pinFile, "reset"]);
    assert.notEqual(
      (await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index)])).code,
      0,
      "K still under the empty authValue",
    );
    const moved = await nvread(s.swtpm.tcti, index, ["-C", hexIndex(index), "-P", `hex:${auth}`]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.ok(Buffer.from(moved.stdout).equals(contents), "K changed in the move");
    assert.equal(
      (JSON.parse(readFileSync(storeFile, "utf8")) as { nv: Record<string, unknown> }).nv.auditKeyAuth,
      "pin",
    );
    const result = await verify(s);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { key: string }).key, "checked");
  });

  test("a torn move copy of the key is refused as the store's corruption, in one line, and the store is left as it was", async (t) => {
    const s = await keyedStore(t);
    const copy = join(s.store, "audit-key.move");
    writeFileSync(copy, '{"v":1,"index":', { mode: 0o600 });
    const before = readFileSync(join(s.store, "audit.log"));
    const refused = await s.run(["--pin-file", s.pinFile, "reset"]);
    assert.equal(refused.code, 6, refused.stderr);
    assert.match(refused.stderr, /^reid: .*audit-key\.move is not a move of this store's audit key\n$/);
    assert.deepEqual(readFileSync(join(s.store, "audit.log")), before);
    assert.equal(readFileSync(copy, "utf8"), '{"v":1,"index":');
  });
});
