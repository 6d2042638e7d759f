// Issue 16, item 4, as the attacker with the file store: area files copied aside and written back
// after later commits are refused (exit 6, store-rolled-back), sealed or not, one file or both;
// the newer files put back read again; the copy a crash or an editor left unreadable never
// refuses the store. docs/spec.md §5.10.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { COMMIT_COUNTER_FILE } from "../../src/storage/file/commit-counter.js";
import { assertOneLineError, type CliOptions, reid, reidJson, reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const AREAS = ["area-0", "area-1"] as const;

function copyAreas(from: string, to: string, areas: readonly string[] = AREAS): void {
  for (const area of areas) copyFileSync(join(from, area), join(to, area));
}

function generation(store: string, options: CliOptions = {}): Promise<number> {
  return reidJson<{ generation: number }>(["--store", store, "status"], options).then((s) => s.generation);
}

/** A store at generation 2 whose area files are copied to `aside`. */
async function storeWithCopy(t: TestContext, options: CliOptions = {}) {
  const { dir, store } = tempDir(t);
  const aside = join(dir, "aside");
  await reidOk(["--store", store, "init"], options);
  await reidOk(["--store", store, "reset"], options);
  mkdirSync(aside, { mode: 0o700 });
  copyAreas(store, aside);
  return { dir, store, aside };
}

async function assertRolledBack(store: string, args: readonly string[], options: CliOptions = {}) {
  const result = await reid(["--store", store, ...args, "--json"], options);
  assertOneLineError(
    result,
    6,
    /was rolled back: its record is of commit \d+, but .* says commit \d+ was made/,
  );
  const { error } = JSON.parse(result.stderr) as { error: { code: string } };
  assert.equal(error.code, "store-rolled-back", `reid ${args.join(" ")}`);
}

test("old area files written back after a reset are refused by every command that reads the record", async (t) => {
  const { store, aside } = await storeWithCopy(t);
  assert.equal(await generation(store), 2);
  const newer = join(store, "..", "newer");
  await reidOk(["--store", store, "reset"]);
  mkdirSync(newer, { mode: 0o700 });
  copyAreas(store, newer);
  copyAreas(aside, store);
  const wrapKey = join(store, "..", "wrap-key");
  writeFileSync(wrapKey, randomBytes(32), { mode: 0o600 });
  for (const args of [["status"], ["reset"], ["erase"], ["keys"], ["export", "--wrap-key", wrapKey]]) {
    await assertRolledBack(store, args);
  }
  // Nothing was written by the refusals: the newer files put back, the store is as it was.
  copyAreas(newer, store);
  assert.equal(await generation(store), 3);
  await reidOk(["--store", store, "reset"]);
  assert.equal(await generation(store), 4);
});

/** The area file that holds a record (the other one a commit erased). */
function recordFile(store: string): string {
  const held = AREAS.filter((area) =>
    readFileSync(join(store, area))
      .subarray(0, 256)
      .some((byte) => byte !== 0),
  );
  assert.equal(held.length, 1, `${store}: ${held.length} areas hold a record`);
  return join(store, held[0] as string);
}

test("the old record written over the file of the one in force is refused too, and so is a rolled-back erase", async (t) => {
  const { store, aside } = await storeWithCopy(t);
  const old = recordFile(aside);
  await reidOk(["--store", store, "erase"]);
  // The erase kept the generation (2) but moved the epoch: the set record of generation 2 is older.
  const erased = await reidJson<{ state: string; generation: number }>(["--store", store, "status"]);
  assert.deepEqual([erased.state, erased.generation], ["blank", 2]);
  copyFileSync(old, recordFile(store));
  await assertRolledBack(store, ["status"]);
  await assertRolledBack(store, ["init"]);
});

test("a sealed store: the old sealed record written back is refused, not opened", async (t) => {
  const { dir } = tempDir(t);
  const kek = join(dir, "kek");
  writeFileSync(kek, randomBytes(32), { mode: 0o600 });
  const options = { env: { REID_KEK_FILE: kek } };
  const { store, aside } = await storeWithCopy(t, options);
  await reidOk(["--store", store, "reset"], options);
  copyAreas(aside, store);
  await assertRolledBack(store, ["status"], options);
  await assertRolledBack(store, ["reset"], options);
});

test("a copy of the counter that is missing or torn reads as none: the store is not refused, and the next commit writes it", async (t) => {
  const { store } = await storeWithCopy(t);
  const counter = join(store, COMMIT_COUNTER_FILE);
  rmSync(counter);
  assert.equal(await generation(store), 2);
  writeFileSync(counter, randomBytes(48));
  assert.equal(await generation(store), 2);
  await reidOk(["--store", store, "reset"]);
  assert.equal(await generation(store), 3);
  // Written again: an old area file is refused once more.
  const aside = join(store, "..", "aside");
  copyAreas(store, aside);
  await reidOk(["--store", store, "reset"]);
  copyAreas(aside, store);
  await assertRolledBack(store, ["status"]);
});

test("a store made before the counter (no copy yet) reads, and from its next commit on is guarded", async (t) => {
  const { store, aside } = await storeWithCopy(t);
  rmSync(join(store, COMMIT_COUNTER_FILE));
  await reidOk(["--store", store, "reset"]);
  copyAreas(aside, store);
  await assertRolledBack(store, ["status"]);
});
