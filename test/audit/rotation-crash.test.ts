// A kill at the worst moment of a rotation (docs/spec.md §9.6): a process that resets forever, its
// audit log rotated at every append (a rotation size of 1 byte), is SIGKILLed again and again, so
// kills land between the renames, before the new file is made, and between its making and its
// first record. After each, `reid log --verify` must pass across the kept files, the generation the
// store holds (every acknowledged reset, and the one after it) must be in the kept log, and the
// files must stay bounded in number.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import { KEEP } from "../../src/audit/log-files.js";
import { reid, reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import { lastAcknowledged, runAndKill } from "../helpers/reset-loop.js";
import { tempDir } from "../helpers/temp.js";

const KILLS = 40;
const MAX_DELAY_MS = 30;
/** Every append rotates: most of a reset's time is spent in rotations, where the kills land. */
const ROTATE_ENV = { REID_AUDIT_ROTATE_BYTES: "1" };

/** The kept files' names, oldest first, and whether a rename of a rotation was cut short. */
function kept(store: string): { names: string[]; cutShort: boolean } {
  const number = (name: string) => Number(/^audit\.log\.(\d+)$/.exec(name)?.[1] ?? 0);
  const all = readdirSync(store).filter((name) => name.startsWith("audit.log"));
  const names = all.sort((a, b) => number(b) - number(a));
  const numbers = names.map(number).filter((n) => n > 0);
  const gap =
    numbers.some((n, i) => i > 0 && numbers[i - 1] !== n + 1) || (numbers.length > 0 && numbers.at(-1) !== 1);
  return { names, cutShort: gap || !all.includes("audit.log") };
}

function records(store: string, names: readonly string[]): AuditRecord[] {
  return names.flatMap((name) =>
    readFileSync(join(store, name), "utf8")
      .split("\n")
      .slice(0, -1)
      .map((line) => JSON.parse(line) as AuditRecord),
  );
}

test("a kill at any point of a rotation leaves a log that verifies and loses no acknowledged reset", {
  timeout: 600_000,
}, async (t) => {
  const { store } = tempDir(t);
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<{ generation: number }>(["init", "--store", store]);
  let committed = init.generation;
  let cutShort = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    const delayMs = Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, undefined, [], ROTATE_ENV);
    const where = `kill ${kill} (after ${delayMs} ms)`;
    const last = lastAcknowledged(acks, committed);
    const files = kept(store);
    if (files.cutShort) cutShort++;
    assert.ok(files.names.length <= KEEP + 1, `${where}: ${files.names.join(", ")}`);

    const verify = await reid(["--store", store, "--json", "log", "--verify"]);
    assert.equal(verify.code, 0, `${where}: ${verify.stderr.trim()}`);
    assert.equal(JSON.parse(verify.stdout).intact, true, where);

    const status = await reidJson<{ generation: number }>(["status", "--store", store]);
    assert.ok(
      status.generation === last || status.generation === last + 1,
      `${where}: generation ${status.generation}, last acknowledged ${last}`,
    );
    const named = records(store, files.names).filter(
      (r) => r.request === "reset" && (r.outcome === "ok" || r.outcome === "pending"),
    );
    assert.ok(
      named.some((r) => r.generation === status.generation),
      `${where}: generation ${status.generation} is in force, but not in the kept log`,
    );
    committed = status.generation;
  }
  // Not an expectation of timing: a guard that the kills did land inside rotations at all.
  assert.ok(cutShort > 0, `no kill of ${KILLS} landed between a rotation's renames`);
  t.diagnostic(`${cutShort} of ${KILLS} kills left a rotation cut short`);
});
