// Crash torture: the reset loop of test/crash/crash.test.ts, SIGKILLed many more times (10,000 by
// default). After every kill the area files are read and decoded in this process, and the store is
// loaded the way `reid status` loads it; every 100th kill the real CLI is asked too. Exits 1 on any
// violation of docs/spec.md §5.3 (old or new generation, never blank, never torn, never lower).
//
//   node --import tsx bench/torture.ts [--kills N] [--dir DIR] [--max-delay-ms MS]
//
// --dir DIR: the store directory (created and initialized if it holds no store; an existing store
// continues from its generation). Without it, a private temporary store is used and removed when
// the run passes.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { REID, reid } from "../test/helpers/cli.js";
import { compileFixture } from "../test/helpers/fixtures.js";
import {
  type Areas,
  forget,
  lastAcknowledged,
  ResetLoopStartError,
  ResetLoopViolation,
  readAreas,
  resetInProcess,
  runAndKill,
} from "../test/helpers/reset-loop.js";
import { containsBytes } from "../test/helpers/secret.js";
import { openFileStore } from "../test/helpers/stores.js";

const CLI_EVERY = 100;
const PROGRESS_EVERY = 1000;
const MAX_REPORTED = 20;

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10000" },
    dir: { type: "string" },
    "max-delay-ms": { type: "string", default: "20" },
  },
  strict: true,
});
const kills = Number(values.kills);
const maxDelayMs = Number(values["max-delay-ms"]);
if (!Number.isSafeInteger(kills) || kills < 1) usage(`bad --kills '${values.kills}'`);
if (!Number.isSafeInteger(maxDelayMs) || maxDelayMs < 0)
  usage(`bad --max-delay-ms '${values["max-delay-ms"]}'`);
if (!existsSync(REID)) usage(`${REID} is missing: run 'node scripts/build.mjs' first`);

const temporary = values.dir === undefined ? mkdtempSync(join(tmpdir(), "reid-torture-")) : undefined;
const store = values.dir === undefined ? join(temporary as string, "store") : resolve(values.dir);

function usage(message: string): never {
  process.stderr.write(
    `torture: ${message}\nusage: node --import tsx bench/torture.ts [--kills N] [--dir DIR]\n`,
  );
  process.exit(2);
}

interface Status {
  readonly state: string;
  readonly generation: number;
}

async function cliStatus(): Promise<Status> {
  const result = await reid(["status", "--json", "--store", store]);
  if (result.code !== 0) throw new Violation(`reid status exited ${result.code}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as Status;
}

class Violation extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}

class Fatal extends Error {}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The generation `reid status` would show, loaded in this process the same way (read-only). */
async function loadedGeneration(): Promise<Status> {
  const loaded = await openFileStore(store, { write: false, lockTimeoutMs: 30_000 });
  try {
    const record = await loaded.load();
    record.identifier?.fill(0);
    return { state: record.state, generation: record.generation };
  } finally {
    await loaded.close();
  }
}

/** One reset in this process after a kill that left two records: it must leave exactly one. */
async function cleanupReset(before: Areas): Promise<number> {
  const generation = await resetInProcess(store);
  const after = readAreas(store);
  try {
    check(after.records.length === 1, `after a clean-up reset ${after.records.length} areas hold a record`);
    check(
      after.records[0]?.generation === generation,
      "after a clean-up reset the record is not the new one",
    );
    check(
      after.decoded.filter((area) => area.kind === "erased").length === 1,
      "after a clean-up reset the other area is not erased",
    );
    for (const old of before.records) {
      const id = old.identifier;
      const lingering = id !== null && after.raw.some((bytes) => containsBytes(bytes, id));
      check(
        !lingering,
        `after a clean-up reset the identifier of generation ${old.generation} is still stored`,
      );
    }
  } finally {
    forget(after);
  }
  return generation;
}

async function main(): Promise<number> {
  const fixture = await compileFixture("reset-loop");
  let committed: number;
  if (existsSync(join(store, "area-0"))) {
    const status = await cliStatus();
    if (status.state !== "set") usage(`the store in ${store} is ${status.state}; torture needs a set one`);
    committed = status.generation;
  } else {
    const init = await reid(["init", "--json", "--store", store]);
    if (init.code !== 0) usage(`reid init failed: ${init.stderr.trim()}`);
    committed = (JSON.parse(init.stdout) as Status).generation;
  }

  const started = Date.now();
  const minutes = () => ((Date.now() - started) / 60_000).toFixed(1);
  let highest = committed;
  let violations = 0;
  let acknowledged = 0;
  let bothHeld = 0;
  let cleanups = 0;
  let cliChecks = 0;
  const outcomes = { ack: 0, next: 0 };
  const summary = (done: number) =>
    `${done} kills, ${violations} violations, status=ack ${outcomes.ack} / ack+1 ${outcomes.next}, ` +
    `both areas held ${bothHeld} (${cleanups} clean-ups checked), ${cliChecks} CLI checks, ` +
    `${acknowledged} resets, ${minutes()} min`;

  let done = 0;
  for (let kill = 1; kill <= kills; kill++) {
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (maxDelayMs + 1));
    try {
      const { acks } = await runAndKill(fixture, store, delayMs);
      acknowledged += acks.length;
      const last = lastAcknowledged(acks, committed);
      const areas = readAreas(store);
      try {
        areas.decoded.forEach((area, index) => {
          check(
            area.kind !== "corrupt",
            `area-${index} is torn or corrupt: ${area.kind === "corrupt" ? area.reason : ""}`,
          );
        });
        const [newest, older] = areas.records;
        check(newest, "neither area holds a valid record");
        check(newest.state === "set", "the newest record is blank");
        const generation = newest.generation;
        check(
          generation === last || generation === last + 1,
          `stored generation ${generation}, last acknowledged ${last}`,
        );
        check(generation >= highest, `generation ${generation} went back below ${highest}`);
        if (older) {
          check(newest.epoch - older.epoch === 1, "the two records are not one commit apart");
          check(newest.generation - older.generation === 1, "the two records are not one reset apart");
          check(!sameBytes(newest.identifier, older.identifier), "old and new identifier are equal");
        }
        const loaded = await loadedGeneration();
        check(
          loaded.state === "set" && loaded.generation === generation,
          `the store loads generation ${loaded.generation}`,
        );
        if (kill % CLI_EVERY === 0) {
          const status = await cliStatus();
          cliChecks++;
          check(
            status.state === "set" && status.generation === generation,
            `reid status shows ${status.state} ${status.generation}, the areas ${generation}`,
          );
        }
        if (generation === last) outcomes.ack++;
        else outcomes.next++;
        highest = generation;
        committed = generation;
        if (older) {
          bothHeld++;
          if (bothHeld % 2 === 1) {
            committed = await cleanupReset(areas);
            highest = committed;
            cleanups++;
          }
        }
      } finally {
        forget(areas);
      }
    } catch (error) {
      if (!(error instanceof Violation || error instanceof ResetLoopViolation)) throw error;
      violations++;
      if (violations <= MAX_REPORTED)
        process.stderr.write(`torture: kill ${kill} (after ${delayMs} ms): ${error.message}\n`);
      // Continue from whatever the store now holds, if it holds anything.
      const status = await loadedGeneration().catch(() => null);
      if (status === null) throw new Fatal(`after kill ${kill} the store cannot be loaded any more`);
      committed = status.generation;
      highest = Math.max(highest, committed);
    }
    done = kill;
    if (kill % PROGRESS_EVERY === 0 && kill !== kills) process.stdout.write(`torture: ${summary(kill)}\n`);
  }
  process.stdout.write(`torture: ${summary(done)}\n`);
  // Both outcomes show that kills landed on both sides of the commit point; a run of 100 kills or
  // more that never did has not tortured anything, and must not look green.
  const oneSided = outcomes.ack === 0 || outcomes.next === 0;
  if (oneSided) {
    process.stderr.write(
      "torture: kills never landed on one side of a commit (status was always ack or always ack+1)\n",
    );
  }
  return violations === 0 && !(oneSided && done >= 100) ? 0 : 1;
}

let code: number;
try {
  code = await main();
} catch (error) {
  process.stderr.write(
    `torture: ${error instanceof Fatal || error instanceof ResetLoopStartError ? error.message : (error as Error).stack}\n`,
  );
  code = 1;
}
if (temporary !== undefined) {
  if (code === 0) rmSync(temporary, { recursive: true, force: true });
  else process.stderr.write(`torture: the store is kept in ${store}\n`);
}
process.exit(code);
