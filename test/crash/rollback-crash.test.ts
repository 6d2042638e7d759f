// Issue 16, item 4: the file store's copy of the commit counter is written after the new record is
// durable and before the old one is erased, so a crash at any step of a commit leaves the copy at
// the old commit or the new one, never above the record in force: a good store is never refused as
// rolled back. Each case kills `reid` (SIGKILL, from the fault shim) just before each of the
// storage calls a commit makes, one run per call, and then holds the store to what a crash may
// leave: status reads the old or the new generation, and the next reset commits. docs/spec.md §5.10.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { reid, reidOk } from "../helpers/cli.js";
import { copyStore, faultEnv, readFaultLog } from "../helpers/faults.js";
import { tempDir } from "../helpers/temp.js";

interface Case {
  readonly name: string;
  /** Makes the starting store in `store`; returns the generations a crash may leave. */
  prepare(store: string): Promise<readonly (number | null)[]>;
  readonly command: readonly string[];
  /**
   * Where the copy's write falls: after the new record's sync (a later commit), or before the
   * first area file is made (a first commit, which starts the counter again: no area holds a
   * record it could refuse until the areas are there).
   */
  readonly counter: "after-record" | "before-areas";
}

/** What status says: the generation, null for a store that is not there, or the refusal's code. */
async function statusOf(store: string): Promise<{ generation: number | string | null; blank: boolean }> {
  const result = await reid(["--store", store, "status", "--json"]);
  if (result.code === 0) {
    const status = JSON.parse(result.stdout) as { generation: number; state: string };
    return { generation: status.generation, blank: status.state === "blank" };
  }
  const { error } = JSON.parse(result.stderr) as { error: { code: string } };
  return { generation: error.code === "no-store" ? null : error.code, blank: true };
}

/** The storage calls `command` makes on a copy of `base`, in order: "pwrite64 area-1", ... */
async function callsOf(t: TestContext, base: string, command: readonly string[]) {
  const { dir } = tempDir(t);
  const store = copyStore(base, join(dir, "store"));
  const log = join(dir, "calls.log");
  const env = await faultEnv({ path: store, op: ["write", "fsync", "open"], nth: 1_000_000, log });
  await reidOk(["--store", store, ...command], { env });
  return readFaultLog(log).map(({ call, path }) => `${call} ${path.slice(store.length + 1) || "."}`);
}

async function killAtEveryStep(t: TestContext, c: Case): Promise<void> {
  const { dir } = tempDir(t);
  const base = join(dir, "base");
  const outcomes = await c.prepare(base);
  const calls = await callsOf(t, base, c.command);
  // The order this test exists for.
  const all = calls.join(", ");
  const counterWrite = calls.findIndex((call) => /write.* commit-counter$/.test(call));
  assert.ok(counterWrite > 0, `${c.name}: no write of the counter's copy among ${all}`);
  const before = calls.slice(0, counterWrite);
  const after = calls.slice(counterWrite);
  if (c.counter === "after-record") {
    assert.ok(
      before.some((call) => /sync.* area-[01]$/.test(call)),
      `${c.name}: no record synced before the copy: ${all}`,
    );
    assert.ok(
      after.some((call) => /write.* area-[01]$/.test(call)),
      `${c.name}: no erase after the copy: ${all}`,
    );
  } else {
    assert.ok(
      !before.some((call) => / area-[01]/.test(call)),
      `${c.name}: an area is made before the copy: ${all}`,
    );
  }
  const seen = new Set<number | null>();
  for (let n = 1; n <= calls.length; n++) {
    const store = copyStore(base, join(dir, `kill-${n}`));
    const env = await faultEnv({ path: store, op: ["write", "fsync", "open"], nth: n, kill: true });
    const killed = await reid(["--store", store, ...c.command], { env });
    const where = `${c.name}, killed before call ${n} (${calls[n - 1]})`;
    assert.equal(
      killed.signal,
      "SIGKILL",
      `${where}: not killed (exit ${killed.code}: ${killed.stderr.trim()})`,
    );
    const { generation, blank } = await statusOf(store);
    assert.ok(
      outcomes.includes(generation as number | null),
      `${where}: status says ${generation}, expected one of ${outcomes.join(", ")}`,
    );
    seen.add(generation as number | null);
    // And the store goes on: the next commit is not refused either.
    await reidOk(["--store", store, blank ? "init" : "reset"]);
    const next = (await statusOf(store)).generation;
    assert.equal(typeof next, "number", `${where}: after the next commit, status says ${next}`);
    rmSync(store, { recursive: true, force: true });
  }
  // Every outcome was reached: some kills came before the commit, some after.
  assert.equal(seen.size, outcomes.length, `${c.name}: outcomes seen ${[...seen].join(", ")}`);
}

test("a reset killed before each of its storage calls: never store-rolled-back", async (t) => {
  await killAtEveryStep(t, {
    name: "reset",
    command: ["reset"],
    counter: "after-record",
    async prepare(store) {
      await reidOk(["--store", store, "init"]);
      await reidOk(["--store", store, "reset"]);
      return [2, 3];
    },
  });
});

test("an erase killed before each of its storage calls: never store-rolled-back", async (t) => {
  await killAtEveryStep(t, {
    name: "erase",
    command: ["erase"],
    counter: "after-record",
    async prepare(store) {
      await reidOk(["--store", store, "init"]);
      await reidOk(["--store", store, "reset"]);
      return [2];
    },
  });
});

test("an init over removed areas, the counter's copy left higher, killed before each call: never store-rolled-back", async (t) => {
  await killAtEveryStep(t, {
    name: "init after the areas went",
    command: ["init"],
    counter: "before-areas",
    async prepare(store) {
      await reidOk(["--store", store, "init"]);
      for (let i = 0; i < 3; i++) await reidOk(["--store", store, "reset"]);
      rmSync(join(store, "area-0"));
      rmSync(join(store, "area-1"));
      // The copy says commit 4; the new store starts again at 1.
      return [0, 1];
    },
  });
});
