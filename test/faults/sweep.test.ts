// Every storage call of a request, failed in turn. A request's matching calls on the store are
// first counted (the shim logs them, failing none); then, for each kind of call and each N, only
// the Nth call fails. The outcome is always one of: exit 0 with the request carried out and no
// trace of the old identifier; exit 6 with the previous record in force, byte for byte; or exit 6
// saying the request is in force but the identifier it superseded could not be overwritten. Status works after every run,
// both areas are always whole, and a fault-free reset afterwards works and leaves no trace of the
// identifier the faulty run started from. A second sweep lets the device die at the Nth call
// (that call and every later one fail): then a refusal that could not undo its half-written area
// must say the new record may be in force, and the record in force is still a whole one.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  assertAreasWhole,
  copyStore,
  type FaultOp,
  faultEnv,
  readFaultLog,
  type StoreSnapshot,
  snapshot,
  status,
} from "../helpers/faults.js";
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

type Start = "set" | "erased" | "fresh";
type Request = "init" | "reset" | "erase";

const CASES: readonly { request: Request; start: Start }[] = [
  { request: "reset", start: "set" },
  { request: "erase", start: "set" },
  { request: "init", start: "erased" },
  { request: "init", start: "fresh" },
];

const LABEL: Record<Start, string> = {
  set: "a set store",
  erased: "an erased store",
  fresh: "a fresh store",
};

const OPS: readonly FaultOp[] = ["write", "fsync", "open"];

/** Which shim op a logged call belongs to. */
function opOf(call: string): FaultOp {
  if (call.includes("sync")) return "fsync";
  if (call.startsWith("open")) return "open";
  return "write";
}

const dir = mkdtempSync(join(tmpdir(), "reid-sweep-base-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const bases: Partial<Record<Start, string>> = {};

before(async () => {
  const set = join(dir, "set");
  await reidOk(["--store", set, "init"]);
  await reidOk(["--store", set, "reset"]);
  const erased = copyStore(set, join(dir, "erased"));
  await reidOk(["--store", erased, "erase"]);
  bases.set = set;
  bases.erased = erased;
});

/** A private copy of the starting store (or a not-yet-existing path for "fresh"). */
function prepare(t: TestContext, start: Start): string {
  const { dir: own, store } = tempDir(t, "reid-sweep-");
  const base = bases[start];
  return base ? copyStore(base, join(own, "store")) : store;
}

interface Before {
  readonly snap: StoreSnapshot;
  readonly state: "blank" | "set";
  readonly generation: number;
}

async function observe(store: string, start: Start): Promise<Before> {
  const snap = snapshot(store);
  if (start === "fresh") return { snap, state: "blank", generation: 0 };
  const { state, generation } = await status(store);
  return { snap, state, generation };
}

/** Counts the request's calls on the store, by op, in a run where the shim fails none. */
async function countCalls(t: TestContext, request: Request, start: Start): Promise<Record<FaultOp, number>> {
  const store = prepare(t, start);
  const log = join(tempDir(t, "reid-sweep-log-").dir, "log");
  const env = await faultEnv({ path: store, op: OPS, nth: 1_000_000, log });
  await reidOk(["--store", store, request], { env });
  const counts: Record<FaultOp, number> = { write: 0, fsync: 0, open: 0 };
  for (const line of readFaultLog(log)) {
    assert.ok(!line.failed);
    counts[opOf(line.call)] += 1;
  }
  return counts;
}

/** Exit 0 and carried out, or exit 6 and nothing changed; `uncertain` allows the documented third case. */
async function assertOutcome(
  request: Request,
  store: string,
  old: Before,
  result: Awaited<ReturnType<typeof reid>>,
  uncertain = false,
): Promise<"done" | "refused" | "uncertain" | "lingering"> {
  const now = await status(store);
  const snap = snapshot(store);
  assertAreasWhole(snap, "after the faulty run");
  const carriedOut = {
    state: request === "erase" ? "blank" : "set",
    generation: old.generation + (request === "erase" ? 0 : 1),
  };
  if (result.code === 0) {
    assert.deepEqual(
      { state: now.state, generation: now.generation },
      carriedOut,
      "exit 0, but not carried out",
    );
    assert.ok(snap.current);
    assert.equal(snap.current.generation, carriedOut.generation);
    if (request !== "erase" && old.snap.current?.identifier) {
      assertDifferentSecret(snap.current.identifier, old.snap.current.identifier);
    }
    const superseded = old.snap.current?.identifier;
    if (superseded) {
      for (const raw of snap.raw)
        assert.ok(raw && !containsBytes(raw, superseded), "exit 0, but the old identifier is still stored");
    }
    return "done";
  }
  const message = /input\/output error \(EIO\)/;
  assertOneLineError(result, 6, message);
  if (/could not be overwritten/.test(result.stderr)) {
    // Committed, but erasing the superseded record failed: the message says what is in force.
    assert.deepEqual(
      { state: now.state, generation: now.generation },
      carriedOut,
      "the message said it was in force",
    );
    assert.match(
      result.stderr,
      request === "erase"
        ? /the element is blank/
        : new RegExp(`generation ${carriedOut.generation} is in force`),
    );
    return "lingering";
  }
  if (uncertain && /may be in force/.test(result.stderr)) {
    // The device died before the half-written area could be cleared: either record may be in
    // force, but it is a whole one, and the message said so.
    const state = { state: now.state, generation: now.generation };
    if ((snap.current?.epoch ?? 0) === (old.snap.current?.epoch ?? 0)) {
      assert.deepEqual(state, { state: old.state, generation: old.generation });
      assertSameSecret(snap.current?.identifier ?? null, old.snap.current?.identifier ?? null);
    } else {
      assert.deepEqual(state, carriedOut);
    }
    return "uncertain";
  }
  assert.deepEqual(
    { state: now.state, generation: now.generation },
    { state: old.state, generation: old.generation },
    "exit 6, but the element changed",
  );
  if (old.snap.current === null) {
    assert.equal(snap.current, null, "a refused first init left a record behind");
  } else {
    assert.ok(snap.current, "exit 6, and the old record is gone");
    assert.equal(snap.current.epoch, old.snap.current.epoch, "exit 6, but something was committed");
    assertSameSecret(snap.current.identifier, old.snap.current.identifier);
  }
  return "refused";
}

/** The store is not left broken: a fault-free reset works and erases what came before. */
async function assertRecovers(store: string, old: Before): Promise<void> {
  const before = await status(store);
  const done = await reidJson<{ generation: number }>(["--store", store, "reset"]);
  assert.equal(done.generation, before.generation + 1);
  const old_ = old.snap.current?.identifier;
  if (old_) {
    const snap = snapshot(store);
    for (const raw of snap.raw) {
      assert.ok(raw && !containsBytes(raw, old_), "the old identifier is still in an area file");
    }
  }
}

describe("failing the Nth storage call of a request: carried out or refused, never anything else", {
  concurrency: 4,
}, () => {
  for (const { request, start } of CASES) {
    it(`${request} on ${LABEL[start]}`, async (t) => {
      const counts = await countCalls(t, request, start);
      // Two areas' worth of durable writes: the new record and the old one's erasure (or, on a
      // fresh store, both area files).
      assert.ok(counts.write >= 2, `only ${counts.write} write calls`);
      assert.ok(counts.fsync >= 2, `only ${counts.fsync} fsync calls`);
      if (start !== "fresh") assert.ok(counts.open >= 1, "the areas were never opened for writing");
      for (const op of OPS) {
        for (let nth = 1; nth <= counts[op]; nth++) {
          await t.test(`${op} #${nth} of ${counts[op]} fails`, async (t) => {
            const store = prepare(t, start);
            const old = await observe(store, start);
            const log = join(tempDir(t, "reid-sweep-log-").dir, "log");
            const env = await faultEnv({ path: store, op, nth, log });
            const result = await reid(["--store", store, request], { env });
            assert.ok(
              readFaultLog(log).some((line) => line.n === nth && line.failed),
              "the shim failed no call",
            );
            const outcome = await assertOutcome(request, store, old, result);
            if (nth === 1)
              assert.equal(outcome, "refused", "the first call failed, yet the request went through");
            await assertRecovers(store, old);
          });
        }
      }
    });
  }
});

describe("the device dies at the Nth write or sync of a request", { concurrency: 4 }, () => {
  for (const { request, start } of CASES) {
    it(`${request} on ${LABEL[start]}`, async (t) => {
      const counts = await countCalls(t, request, start);
      const total = counts.write + counts.fsync;
      for (let nth = 1; nth <= total; nth++) {
        await t.test(`calls #${nth}..${total} fail`, async (t) => {
          const store = prepare(t, start);
          const old = await observe(store, start);
          const env = await faultEnv({ path: store, op: ["write", "fsync"], nth, from: true });
          const result = await reid(["--store", store, request], { env });
          const outcome = await assertOutcome(request, store, old, result, true);
          if (nth === 1) assert.equal(outcome, "refused");
          await assertRecovers(store, old);
        });
      }
    });
  }
});
