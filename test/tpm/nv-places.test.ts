// A TPM store's counter and audit key live in indices it chooses at first need and records in
// store.json (docs/spec.md §5.7), not at I + 2 and I + 3: an earlier version's stores took two
// indices each, so two of them at I and I + 2 were legal, and the derived counter of the first
// landed on the second's area (store-foreign). Each test runs the real CLI on a swtpm of its own:
// two such stores both commit, read and refuse an old record written back; a store of the version
// before this one (counter at I + 2, key at I + 3, nothing recorded) goes on in place; a reset
// SIGKILLed (by the fault shim, before each of its file calls) while it chooses and records the
// counter leaves a store that opens, commits and counts; and a pin set so killed while it chooses
// and records the audit key leaves one that opens and whose next PIN operation keys the log.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { REID_COUNTER_ATTRIBUTES } from "../../src/storage/tpm/nv-counter.js";
import { password } from "../../src/tpm/command.js";
import { NV_Read } from "../../src/tpm/commands/nv.js";
import { TPM_RH, TPMA_NV } from "../../src/tpm/constants.js";
import { nvName } from "../../src/tpm/names.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { type CliResult, reid } from "../helpers/cli.js";
import { faultEnv, readFaultLog } from "../helpers/faults.js";
import { type Swtpm, startSwtpm } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { nvPublic, readIndex, undefineIndex, writeIndex } from "../helpers/tpm-nv.js";
import { authValueOf, tpm2Ok } from "./tools.js";

const I = 0x01525000;
const PIN = "correct horse 42";
const hexIndex = (index: number) => `0x${index.toString(16).padStart(8, "0")}`;

interface Nv {
  readonly counter: string | null;
  readonly auditKey: string | null;
}

/** One store on the test's swtpm at `base`: the CLI on it, and what its store.json records. */
function storeAt(swtpm: Swtpm, store: string, base: number) {
  const spec = `${swtpm.spec},nv-index=${hexIndex(base)}`;
  const run = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
    reid(["--store", store, "--tpm", spec, ...args], env ? { env } : {});
  const ok = async (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => {
    const result = await run(args, env);
    assert.equal(
      result.code,
      0,
      `${store}: reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`,
    );
    return result;
  };
  const status = async (args: readonly string[] = []) =>
    JSON.parse((await ok([...args, "--json", "status"])).stdout) as { generation: number; handle: string };
  const nv = () => (JSON.parse(readFileSync(join(store, "store.json"), "utf8")) as { nv?: Nv }).nv;
  return { store, base, run, ok, status, nv };
}
type Store = ReturnType<typeof storeAt>;

async function withTpm<T>(swtpm: Swtpm, task: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = await connectTpm(swtpm.address, undefined, { sessions: "encrypted" });
  try {
    return await task(tpm);
  } finally {
    await tpm.close();
  }
}

/** The NV indices the TPM has defined, as tpm2_getcap lists them. */
async function handles(swtpm: Swtpm): Promise<Set<number>> {
  const out = (await tpm2Ok(swtpm.tcti, ["tpm2_getcap", "handles-nv-index"])).stdout.toString();
  return new Set([...out.matchAll(/0x[0-9a-fA-F]+/g)].map((m) => Number(m[0])));
}

/**
 * The store as an earlier version left it: its two areas, no counter or audit key (undefined with
 * the owner's authorization, as tpm2_nvundefine does), no rollback.json, nothing recorded.
 */
async function asEarlierVersion(swtpm: Swtpm, s: Store, extra: readonly number[] = []): Promise<void> {
  const nv = s.nv();
  const places = [nv?.counter, nv?.auditKey].filter((x): x is string => typeof x === "string");
  await withTpm(swtpm, async (tpm) => {
    for (const index of [...places.map(Number), ...extra]) await undefineIndex(tpm, index);
  });
  rmSync(join(s.store, "rollback.json"), { force: true });
  forget(s);
}

/** store.json without its record of the indices (what the version before this one wrote). */
function forget(s: Store): void {
  const path = join(s.store, "store.json");
  const { nv: _, ...rest } = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  writeFileSync(path, `${JSON.stringify(rest)}\n`, { mode: 0o600 });
}

/** The two areas' bytes (empty: undefined), read behind the store's back. */
async function areasOf(swtpm: Swtpm, s: Store): Promise<Uint8Array[]> {
  return withTpm(swtpm, async (tpm) => [await readIndex(tpm, s.base), await readIndex(tpm, s.base + 1)]);
}

async function putAreas(swtpm: Swtpm, s: Store, areas: readonly Uint8Array[]): Promise<void> {
  await withTpm(swtpm, async (tpm) => {
    for (const [i, bytes] of areas.entries()) {
      await undefineIndex(tpm, s.base + i);
      if (bytes.length > 0) await writeIndex(tpm, s.base + i, bytes);
    }
  });
}

/** The counter's value, read with the owner's authorization (its ownerread). */
async function counterValue(swtpm: Swtpm, index: number): Promise<bigint> {
  return withTpm(swtpm, async (tpm) => {
    const pub = await nvPublic(tpm, index);
    assert.ok(pub, `no counter at ${hexIndex(index)}`);
    const { data } = await tpm.run(NV_Read, {
      authHandle: password(TPM_RH.OWNER),
      nvIndex: { handle: index, name: nvName(pub) },
      size: 8,
      offset: 0,
    });
    return Buffer.from(data).readBigUInt64BE(0);
  });
}

/** The recorded counter: defined as reid's counter and counted at least once. */
async function assertCounter(swtpm: Swtpm, s: Store, where: string): Promise<number> {
  const index = Number(s.nv()?.counter);
  assert.ok(Number.isInteger(index) && index > 0, `${where}: no counter recorded: ${JSON.stringify(s.nv())}`);
  const pub = await withTpm(swtpm, (tpm) => nvPublic(tpm, index));
  assert.ok(pub, `${where}: the recorded counter ${hexIndex(index)} is not defined`);
  assert.equal((pub.attributes & ~TPMA_NV.WRITTEN) >>> 0, REID_COUNTER_ATTRIBUTES, where);
  assert.ok(pub.attributes & TPMA_NV.WRITTEN, `${where}: the counter never counted`);
  return index;
}

/** An old record written back is refused (exit 6), the newer one put back reads again. */
async function assertRollbackRefused(swtpm: Swtpm, s: Store): Promise<void> {
  const old = await areasOf(swtpm, s);
  await s.ok(["reset"]);
  const newer = await areasOf(swtpm, s);
  const generation = (await s.status()).generation;
  await putAreas(swtpm, s, old);
  const refused = await s.run(["--json", "status"]);
  assert.equal(refused.code, 6, refused.stderr);
  assert.match(refused.stderr, /store-rolled-back/);
  await putAreas(swtpm, s, newer);
  assert.equal((await s.status()).generation, generation);
}

async function swtpmOfTest(t: TestContext): Promise<Swtpm> {
  const swtpm = await startSwtpm();
  t.after(() => swtpm.stop());
  return swtpm;
}

/** Two stores as an earlier version left them on the test's swtpm: A at I, B at I + 2, two indices each. */
async function earlierPair(t: TestContext) {
  const swtpm = await swtpmOfTest(t);
  const { dir } = tempDir(t);
  const a = storeAt(swtpm, join(dir, "a"), I);
  const b = storeAt(swtpm, join(dir, "b"), I + 2);
  await b.ok(["init"]);
  await a.ok(["init"]);
  await asEarlierVersion(swtpm, b);
  await asEarlierVersion(swtpm, a);
  return { swtpm, dir, a, b };
}

test("two stores an earlier version put at I and I + 2 both commit, read, keep their rollback protection, and key their logs apart", async (t) => {
  const { swtpm, dir, a, b } = await earlierPair(t);
  // Two indices each, as the earlier version had them: I + 2 is B's, where A's counter was derived.
  const before = await handles(swtpm);
  assert.ok(
    [...before].every((index) => index >= I && index <= I + 3),
    [...before].map(hexIndex).join(" "),
  );
  assert.ok(before.has(I + 2) || before.has(I + 3), "B holds neither of its indices");
  const handleB = (await b.status()).handle;

  for (const s of [a, b]) {
    await s.ok(["reset"]);
    await s.ok(["reset"]);
    assert.equal((await s.status()).generation, 3);
  }
  const counterA = await assertCounter(swtpm, a, "A");
  const counterB = await assertCounter(swtpm, b, "B");
  assert.notEqual(counterA, counterB);
  for (const index of [counterA, counterB]) {
    assert.ok(index < I || index > I + 3, `a counter at ${hexIndex(index)}, one of the two stores' areas`);
  }
  // A's commits left B's record alone, and the other way round.
  assert.notEqual((await b.status()).handle, handleB, "B's resets did not move its handle");
  for (const s of [a, b]) await assertRollbackRefused(swtpm, s);

  // Each store's audit key in an index of its own: A's is not B's area at I + 3.
  const pinFile = secretFile(dir, "pin-a", PIN);
  await a.ok(["pin", "set"], { REID_PIN_NEW: PIN });
  await b.ok(["pin", "set"], { REID_PIN_NEW: PIN });
  const keys = [a.nv()?.auditKey, b.nv()?.auditKey].map(Number);
  assert.ok(
    keys.every((index) => Number.isInteger(index) && (index < I || index > I + 3)),
    JSON.stringify(keys),
  );
  assert.equal(new Set([...keys, counterA, counterB]).size, 4, "two of the chosen indices are one");
  for (const s of [a, b]) {
    await s.ok(["--pin-file", pinFile, "reset"]);
    const verdict = JSON.parse((await s.ok(["--pin-file", pinFile, "--json", "log", "--verify"])).stdout) as {
      intact: boolean;
      key: string;
    };
    assert.deepEqual([verdict.intact, verdict.key], [true, "checked"], s.store);
  }
});

test("a store of the version before (counter at I + 2, audit key at I + 3, nothing recorded) goes on in place and records them", async (t) => {
  const swtpm = await swtpmOfTest(t);
  const { dir } = tempDir(t);
  const a = storeAt(swtpm, join(dir, "a"), I);
  const pinFile = secretFile(dir, "pin", PIN);
  await a.ok(["init"]);
  await a.ok(["pin", "set"], { REID_PIN_NEW: PIN });
  // With nothing around it, a new store's choice is where the version before put them.
  const bound = { counter: hexIndex(I + 2), auditKey: hexIndex(I + 3), auditKeyAuth: "pin" };
  assert.deepEqual(a.nv(), bound);
  // That version's key was under the empty authValue (docs/spec.md §9.7): put it so.
  const auth = Buffer.from(await authValueOf(a.store, PIN), "hex");
  await withTpm(swtpm, async (tpm) => {
    const contents = await readIndex(tpm, I + 3, undefined, auth);
    await undefineIndex(tpm, I + 3);
    await writeIndex(tpm, I + 3, contents);
  });
  forget(a);
  // Beside the areas, which move between I and I + 1 with each commit.
  const beside = async () => [...(await handles(swtpm))].filter((index) => index > I + 1).sort();
  const defined = await beside();
  const counted = await counterValue(swtpm, I + 2);

  await a.ok(["--pin-file", pinFile, "reset"]);
  // Recorded where it was, and moved there under the PIN's authValue by the proven reset.
  assert.deepEqual(a.nv(), bound);
  assert.deepEqual(await beside(), defined, "a new index was defined");
  // The same counter counts on: the protection the store had goes on.
  assert.equal(await counterValue(swtpm, I + 2), counted + 1n);
  const verdict = JSON.parse((await a.ok(["--pin-file", pinFile, "--json", "log", "--verify"])).stdout) as {
    intact: boolean;
    key: string;
  };
  assert.deepEqual([verdict.intact, verdict.key], [true, "checked"]);
  // The key found is the key: with I + 3 holding another key, the log no longer verifies.
  const key = await withTpm(swtpm, (tpm) => readIndex(tpm, I + 3, undefined, auth));
  const other = Uint8Array.from(key);
  other[20] = (other[20] ?? 0) ^ 0xff;
  await withTpm(swtpm, async (tpm) => {
    await undefineIndex(tpm, I + 3);
    await writeIndex(tpm, I + 3, other, undefined, auth);
  });
  const forged = await a.run(["--pin-file", pinFile, "--json", "log", "--verify"]);
  assert.equal(forged.code, 6, forged.stderr);
  assert.match(forged.stderr, /audit-forged/);
});

test("a reset killed before each of its file calls while it chooses and records the counter: the store opens, commits and counts", async (t) => {
  const { swtpm, dir, a, b } = await earlierPair(t);
  // B, upgraded, has chosen its counter before the kills begin.
  await b.ok(["reset"]);
  // Beside the two stores' areas (which move between their pairs with each commit).
  const outside = async () => [...(await handles(swtpm))].filter((index) => index < I || index > I + 3);
  const baseline = new Set(await outside());
  const handleB = (await b.status()).handle;
  /** Indices this test's kills may leave: defined, but neither a baseline one nor recorded. */
  const strays = async () => {
    const recorded = Number(a.nv()?.counter ?? 0);
    return (await outside()).filter((index) => !baseline.has(index) && index !== recorded);
  };

  // The file calls of one reset of the earlier version's store, in order.
  const log = join(dir, "calls.log");
  await a.ok(
    ["reset"],
    await faultEnv({ path: a.store, op: ["write", "fsync", "open"], nth: 1_000_000, log }),
  );
  const calls = readFaultLog(log).map(({ call, path }) => `${call} ${path.slice(a.store.length + 1) || "."}`);
  const all = calls.join(", ");
  const record = calls.findLastIndex((call) => /store\.json/.test(call));
  const count = calls.findIndex((call) => /rollback\.json/.test(call));
  assert.ok(record >= 0 && count > record, `the counter is not recorded before it counts: ${all}`);
  await assertCounter(swtpm, a, "fault-free run");

  let generation = (await a.status()).generation;
  let leftStrays = 0;
  for (let n = 1; n <= calls.length; n++) {
    await asEarlierVersion(swtpm, a, await strays());
    const where = `killed before call ${n} (${calls[n - 1]})`;
    const killed = await a.run(
      ["reset"],
      await faultEnv({ path: a.store, op: ["write", "fsync", "open"], nth: n, kill: true }),
    );
    assert.equal(
      killed.signal,
      "SIGKILL",
      `${where}: not killed (exit ${killed.code}: ${killed.stderr.trim()})`,
    );
    const left = await strays();
    // At most the one index defined and not yet recorded, never written: no one's data.
    assert.ok(left.length <= 1, `${where}: ${left.map(hexIndex).join(" ")} left`);
    for (const index of left) {
      const pub = await withTpm(swtpm, (tpm) => nvPublic(tpm, index));
      assert.equal(pub?.attributes, REID_COUNTER_ATTRIBUTES, `${where}: a stray index was written`);
    }
    leftStrays += left.length;
    const after = (await a.status()).generation;
    assert.ok(
      after === generation || after === generation + 1,
      `${where}: generation ${after} after ${generation}`,
    );
    await a.ok(["reset"]);
    generation = (await a.status()).generation;
    assert.equal(generation, after + 1, where);
    await assertCounter(swtpm, a, where);
    assert.ok(readFileSync(join(a.store, "rollback.json")).length > 0, where);
    assert.equal((await b.status()).handle, handleB, `${where}: B's record moved`);
  }
  // Some kill fell between the counter's definition and its record (the window that leaves one).
  assert.ok(leftStrays > 0, `no kill fell between the definition and the record: ${all}`);
  // And the store keeps its protection after all that.
  await assertRollbackRefused(swtpm, a);
});

test("a pin set killed before each of its file calls while it chooses and records the audit key: the store opens, and the next PIN operation keys the log", async (t) => {
  const { dir } = tempDir(t);
  const pins = [secretFile(dir, "pin-0", PIN), secretFile(dir, "pin-1", "battery staple 7")];
  // The file calls of one pin set on a fresh store, in order.
  const calls = await (async () => {
    const swtpm = await swtpmOfTest(t);
    const a = storeAt(swtpm, join(dir, "calibration"), I);
    await a.ok(["init"]);
    const log = join(dir, "calls.log");
    const env = await faultEnv({ path: a.store, op: ["write", "fsync", "open"], nth: 1_000_000, log });
    await a.ok(["pin", "set", "--new-pin-file", pins[0] as string], env);
    assert.equal(a.nv()?.auditKey, hexIndex(I + 3));
    return readFaultLog(log).map(({ call, path }) => `${call} ${path.slice(a.store.length + 1) || "."}`);
  })();
  let strays = 0;
  for (let n = 1; n <= calls.length; n++) {
    const where = `killed before call ${n} (${calls[n - 1]})`;
    // A TPM of its own each time: the kill leaves state in it that the next run must not inherit.
    const swtpm = await startSwtpm();
    try {
      const a = storeAt(swtpm, join(dir, `kill-${n}`), I);
      await a.ok(["init"]);
      const env = await faultEnv({ path: a.store, op: ["write", "fsync", "open"], nth: n, kill: true });
      const killed = await a.run(["pin", "set", "--new-pin-file", pins[0] as string], env);
      assert.equal(
        killed.signal,
        "SIGKILL",
        `${where}: not killed (exit ${killed.code}: ${killed.stderr.trim()})`,
      );
      // Opens: with the PIN once owner.json holds it, else without.
      const pinSet = existsSync(join(a.store, "owner.json"));
      const proof = pinSet ? ["--pin-file", pins[0] as string] : [];
      assert.equal((await a.status(proof)).generation, 1, where);
      // The next PIN operation makes the key where none was made, and keys the log.
      await a.ok(
        pinSet
          ? [...proof, "pin", "change", "--new-pin-file", pins[1] as string]
          : ["pin", "set", "--new-pin-file", pins[1] as string],
      );
      const key = Number(a.nv()?.auditKey);
      assert.ok(Number.isInteger(key), `${where}: no audit key recorded: ${JSON.stringify(a.nv())}`);
      const verdict = JSON.parse(
        (await a.ok(["--pin-file", pins[1] as string, "--json", "log", "--verify"])).stdout,
      ) as { intact: boolean; key: string };
      assert.deepEqual([verdict.intact, verdict.key], [true, "checked"], where);
      // Beside the areas, the counter and the key: at most the one index defined and not recorded.
      const counter = Number(a.nv()?.counter);
      const left = [...(await handles(swtpm))].filter((index) => ![I, I + 1, counter, key].includes(index));
      assert.ok(left.length <= 1, `${where}: ${left.map(hexIndex).join(" ")} left`);
      strays += left.length;
    } finally {
      await swtpm.stop();
    }
  }
  assert.ok(
    strays > 0,
    `no kill fell between the key index's definition and its record: ${calls.join(", ")}`,
  );
});
