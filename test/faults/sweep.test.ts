// Every storage call of a request, failed in turn. A request's matching calls on the store are
// first counted (the shim logs them, failing none); then, for each kind of call and each N, only
// the Nth call fails. A request writes two kinds of files in its store: its area files (the
// element) and, once the element has changed (or the request was refused), the audit log. A fault
// on an area file ends in one of: exit 0 with the request carried out and no trace of the old
// identifier; exit 6 with the previous record in force, byte for byte; or exit 6 saying the request
// is in force but the identifier it superseded could not be overwritten. A fault on the audit log
// ends in exactly one way: exit 6 "audit-failure", saying the request was carried out (it was)
// but its audit record could not be written. Status works after every run, both areas are always
// whole, the audit log never holds a torn line nor an "ok" record for a request that was not
// carried out, and a fault-free reset afterwards works and leaves no trace of the identifier the
// faulty run started from. A second sweep lets the device die at the Nth call (that call and every
// later one fail): then a refusal that could not undo its half-written area must say the new
// record may be in force, and the record in force is still a whole one. Each sweep counts its
// outcomes and checks that every one of them, "audit-failure" included, actually occurred.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type AuditLine,
  assertAreasWhole,
  assertAuditFailure,
  auditLog,
  type FaultOp,
  faultEnv,
  fileKind,
  readFaultLog,
  type Start,
  type StoreSnapshot,
  snapshot,
  startingStores,
  status,
  tmpFiles,
} from "../helpers/faults.js";
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

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

type Outcome = "done" | "refused" | "uncertain" | "lingering" | "audit-failure";
type Kind = "area" | "audit";

/** How often each outcome followed a fault on each kind of file, over a case or a whole sweep. */
class Tally {
  private readonly counts = new Map<string, number>();

  add(kind: Kind, outcome: Outcome): void {
    const key = `${kind} fault -> ${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  get(kind: Kind, outcome: Outcome): number {
    return this.counts.get(`${kind} fault -> ${outcome}`) ?? 0;
  }

  get total(): number {
    return [...this.counts.values()].reduce((sum, n) => sum + n, 0);
  }

  toString(): string {
    return [...this.counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, n]) => `${key}: ${n}`)
      .join(", ");
  }
}

/** Which shim op a logged call belongs to. */
function opOf(call: string): FaultOp {
  if (call.includes("sync")) return "fsync";
  if (call.startsWith("open")) return "open";
  return "write";
}

/** A private copy of the starting store (or a not-yet-existing path for "fresh"). */
const prepare = startingStores("reid-sweep-", 1);

interface Before {
  readonly snap: StoreSnapshot;
  readonly state: "blank" | "set";
  readonly generation: number;
  /** The audit log's text before the run ("" when there is none). */
  readonly log: string;
  readonly records: readonly AuditLine[];
}

function readLog(store: string): string {
  const path = join(store, "audit.log");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

async function observe(store: string, start: Start): Promise<Before> {
  const snap = snapshot(store);
  const log = readLog(store);
  const records = auditLog(store, "before the run");
  if (start === "fresh") return { snap, state: "blank", generation: 0, log, records };
  const { state, generation } = await status(store);
  return { snap, state, generation, log, records };
}

type Counts = Record<FaultOp, number>;

/**
 * Counts the request's calls on the store, by op, in a run where the shim fails none: all of them,
 * and those on the area files and on the audit log apart.
 */
async function countCalls(
  t: TestContext,
  request: Request,
  start: Start,
): Promise<{ all: Counts } & Record<Kind, Counts>> {
  const store = prepare(t, start);
  const log = join(tempDir(t, "reid-sweep-log-").dir, "log");
  const env = await faultEnv({ path: store, op: OPS, nth: 1_000_000, log });
  await reidOk(["--store", store, request], { env });
  const zero = (): Counts => ({ write: 0, fsync: 0, open: 0 });
  const counts = { all: zero(), area: zero(), audit: zero() };
  let afterAudit = false;
  for (const line of readFaultLog(log)) {
    assert.ok(!line.failed);
    const kind = fileKind(store, line.path, afterAudit);
    afterAudit ||= kind === "audit";
    counts.all[opOf(line.call)] += 1;
    counts[kind][opOf(line.call)] += 1;
  }
  return counts;
}

/** Which kind of file the first call the shim failed in a run went to (the fault's target). */
function faultTarget(store: string, log: string, nth: number): Kind {
  const lines = readFaultLog(log);
  const at = lines.findIndex((line) => line.failed);
  const failed = lines[at];
  assert.ok(failed, "the shim failed no call");
  assert.equal(failed.n, nth, `the first failed call is #${failed.n}, not #${nth}`);
  const afterAudit = lines.slice(0, at).some((line) => fileKind(store, line.path) === "audit");
  return fileKind(store, failed.path, afterAudit);
}

/** The element is as the request leaves it: the new state and generation, no trace of the old identifier. */
function assertCarriedOut(
  request: Request,
  now: { state: string; generation: number },
  snap: StoreSnapshot,
  old: Before,
  what: string,
): void {
  assert.deepEqual(
    { state: now.state, generation: now.generation },
    carriedOut(request, old),
    `${what}, but not carried out`,
  );
  assert.ok(snap.current, `${what}, but no record is in force`);
  assert.equal(snap.current.generation, carriedOut(request, old).generation);
  if (request !== "erase" && old.snap.current?.identifier) {
    assertDifferentSecret(snap.current.identifier, old.snap.current.identifier);
  }
  const superseded = old.snap.current?.identifier;
  if (superseded) {
    for (const raw of snap.raw)
      assert.ok(raw && !containsBytes(raw, superseded), `${what}, but the old identifier is still stored`);
  }
}

function carriedOut(request: Request, old: Before): { state: string; generation: number } {
  return {
    state: request === "erase" ? "blank" : "set",
    generation: old.generation + (request === "erase" ? 0 : 1),
  };
}

/**
 * Exit 0 and carried out; exit 6 "audit-failure" and carried out; or exit 6 and nothing changed;
 * `uncertain` allows the documented fourth case.
 */
async function assertOutcome(
  request: Request,
  store: string,
  old: Before,
  result: Awaited<ReturnType<typeof reid>>,
  uncertain = false,
): Promise<Outcome> {
  const now = await status(store);
  const snap = snapshot(store);
  assertAreasWhole(snap, "after the faulty run");
  assert.deepEqual(tmpFiles(store), [], "the faulty run left temporary files behind");
  if (result.code === 0) {
    assertCarriedOut(request, now, snap, old, "exit 0");
    return "done";
  }
  const message = /input\/output error \(EIO\)/;
  assertOneLineError(result, 6, message);
  if (/audit record could not be written/.test(result.stderr)) {
    // The element changed; only its audit record is missing, and the message says so.
    assertAuditFailure(result, request, message);
    assertCarriedOut(request, now, snap, old, "exit 6 audit-failure");
    return "audit-failure";
  }
  // Not carried out (or not wholly): the storage fault is the news, never the audit log, whose
  // record of this outcome, if it could not be written, is dropped.
  assert.doesNotMatch(result.stderr, /audit/, "the refusal's message is about the audit log");
  const state = { state: now.state, generation: now.generation };
  if (/could not be overwritten/.test(result.stderr)) {
    // Committed, but erasing the superseded record failed: the message says what is in force.
    assert.deepEqual(state, carriedOut(request, old), "the message said it was in force");
    assert.match(
      result.stderr,
      request === "erase"
        ? /the element is blank/
        : new RegExp(`generation ${carriedOut(request, old).generation} is in force`),
    );
    return "lingering";
  }
  if (uncertain && /may be in force/.test(result.stderr)) {
    // The device died before the half-written area could be cleared: either record may be in
    // force, but it is a whole one, and the message said so.
    if ((snap.current?.epoch ?? 0) === (old.snap.current?.epoch ?? 0)) {
      assert.deepEqual(state, { state: old.state, generation: old.generation });
      assertSameSecret(snap.current?.identifier ?? null, old.snap.current?.identifier ?? null);
    } else {
      assert.deepEqual(state, carriedOut(request, old));
    }
    return "uncertain";
  }
  // Refused: the element did not change.
  assert.deepEqual(
    state,
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

/**
 * What the run left in the audit log. It only ever grows (the old lines stay as they were), and
 * every line is whole JSON. A request carried out with exit 0 added one "ok" record; one that
 * ended in "audit-failure" added at most that record (written, but not synced or not in the
 * head). A request not carried out never added an "ok" record: with the audit log's storage
 * working (`deviceDead` false) it added exactly one record of its refusal, and with the device dead
 * the refusal's record was dropped.
 */
function assertAudited(
  request: Request,
  store: string,
  old: Before,
  outcome: Outcome,
  deviceDead: boolean,
): void {
  const text = readLog(store);
  assert.ok(text.startsWith(old.log), "the audit log's earlier records were changed");
  const added = auditLog(store, `after the faulty run (${outcome})`).slice(old.records.length);
  for (const record of added) assert.equal(record.request, request);
  const generation = carriedOut(request, old).generation;
  switch (outcome) {
    case "done":
      assert.deepEqual(
        added.map(({ outcome, generation }) => ({ outcome, generation })),
        [{ outcome: "ok", generation }],
      );
      break;
    case "audit-failure":
      assert.ok(added.length <= 1, `${added.length} records added`);
      for (const record of added) assert.deepEqual([record.outcome, record.generation], ["ok", generation]);
      break;
    default: {
      assert.ok(
        added.every((record) => record.outcome !== "ok"),
        `a request that was not carried out (${outcome}) is recorded as "ok"`,
      );
      if (deviceDead) {
        assert.deepEqual(added, [], "the device was dead, yet a record was written");
      } else if (outcome === "refused") {
        assert.deepEqual(
          added.map(({ outcome, generation }) => ({ outcome, generation })),
          [{ outcome: "storage-failure", generation: old.generation }],
          "the refusal was not recorded",
        );
      } else {
        assert.deepEqual(
          added.map(({ outcome, generation }) => ({ outcome, generation })),
          [{ outcome: "erase-incomplete", generation }],
          "the incomplete erasure was not recorded",
        );
      }
    }
  }
}

/** The store is not left broken: a fault-free reset works and erases what came before. */
async function assertRecovers(store: string, old: Before): Promise<void> {
  const before = await status(store);
  const done = await reidJson<{ generation: number }>(["--store", store, "reset"]);
  assert.equal(done.generation, before.generation + 1);
  const records = auditLog(store, "after the fault-free reset");
  assert.deepEqual(
    [records.at(-1)?.request, records.at(-1)?.outcome, records.at(-1)?.generation],
    ["reset", "ok", done.generation],
  );
  const old_ = old.snap.current?.identifier;
  if (old_) {
    const snap = snapshot(store);
    for (const raw of snap.raw) {
      assert.ok(raw && !containsBytes(raw, old_), "the old identifier is still in an area file");
    }
  }
}

/** Per case: which outcomes a fault on each kind of file may have, and which must have occurred. */
function assertCaseTally(tally: Tally, counts: Record<Kind, Counts>, ops: readonly FaultOp[]): void {
  const auditCalls = ops.reduce((sum, op) => sum + counts.audit[op], 0);
  assert.equal(tally.get("audit", "audit-failure"), auditCalls, "not every audit fault was an audit-failure");
  assert.ok(tally.get("area", "refused") >= 1, "no area fault was refused");
}

describe("failing the Nth storage call of a request: carried out or refused, never anything else", () => {
  const tally = new Tally();

  describe("each request", { concurrency: 4 }, () => {
    for (const { request, start } of CASES) {
      it(`${request} on ${LABEL[start]}`, async (t) => {
        const counts = await countCalls(t, request, start);
        // Two areas' worth of durable writes: the new record and the old one's erasure (or, on a
        // fresh store, both area files).
        assert.ok(counts.area.write >= 2, `only ${counts.area.write} write calls on the areas`);
        assert.ok(counts.area.fsync >= 2, `only ${counts.area.fsync} fsync calls on the areas`);
        if (start !== "fresh") assert.ok(counts.area.open >= 1, "the areas were never opened for writing");
        // And its audit record: appended to the log (open, write, sync), then the head replaced.
        for (const op of OPS)
          assert.ok(counts.audit[op] >= 2, `only ${counts.audit[op]} ${op} calls on the audit log`);
        const own = new Tally();
        for (const op of OPS) {
          for (let nth = 1; nth <= counts.all[op]; nth++) {
            await t.test(`${op} #${nth} of ${counts.all[op]} fails`, async (t) => {
              const store = prepare(t, start);
              const old = await observe(store, start);
              const log = join(tempDir(t, "reid-sweep-log-").dir, "log");
              const env = await faultEnv({ path: store, op, nth, log });
              const result = await reid(["--store", store, request], { env });
              const kind = faultTarget(store, log, nth);
              const outcome = await assertOutcome(request, store, old, result);
              if (kind === "audit") {
                assert.equal(outcome, "audit-failure", "a fault on the audit log, yet not an audit-failure");
              } else {
                assert.notEqual(outcome, "audit-failure", "a fault on an area file, yet an audit-failure");
                if (nth === 1)
                  assert.equal(outcome, "refused", "the first call failed, yet the request went through");
              }
              assertAudited(request, store, old, outcome, false);
              await assertRecovers(store, old);
              own.add(kind, outcome);
              tally.add(kind, outcome);
            });
          }
        }
        t.diagnostic(own.toString());
        assertCaseTally(own, counts, OPS);
      });
    }
  });

  it("every kind of outcome occurred: refused, lingering and audit-failure at least", (t) => {
    t.diagnostic(`outcomes, the Nth call failing: ${tally}`);
    assert.ok(tally.total > 0, "no faulty run was counted");
    assert.ok(tally.get("area", "refused") >= 1, `no refusal: ${tally}`);
    assert.ok(tally.get("audit", "audit-failure") >= 1, `no audit-failure: ${tally}`);
    assert.ok(tally.get("area", "lingering") >= 1, `no lingering identifier: ${tally}`);
  });
});

describe("the device dies at the Nth write or sync of a request", () => {
  const tally = new Tally();
  const ops: readonly FaultOp[] = ["write", "fsync"];

  describe("each request", { concurrency: 4 }, () => {
    for (const { request, start } of CASES) {
      it(`${request} on ${LABEL[start]}`, async (t) => {
        const counts = await countCalls(t, request, start);
        const total = counts.all.write + counts.all.fsync;
        const own = new Tally();
        for (let nth = 1; nth <= total; nth++) {
          await t.test(`calls #${nth}..${total} fail`, async (t) => {
            const store = prepare(t, start);
            const old = await observe(store, start);
            const log = join(tempDir(t, "reid-sweep-log-").dir, "log");
            const env = await faultEnv({ path: store, op: ops, nth, from: true, log });
            const result = await reid(["--store", store, request], { env });
            const kind = faultTarget(store, log, nth);
            const outcome = await assertOutcome(request, store, old, result, true);
            if (kind === "audit") {
              // Every area call went through: the element changed, its record could not be written.
              assert.equal(
                outcome,
                "audit-failure",
                "the device died at the audit log, yet not an audit-failure",
              );
            } else {
              // The refusal's own audit record failed too, and was dropped: the refusal is the news.
              assert.notEqual(outcome, "audit-failure", "a fault on an area file, yet an audit-failure");
              if (nth === 1) assert.equal(outcome, "refused");
            }
            assertAudited(request, store, old, outcome, kind === "area");
            await assertRecovers(store, old);
            own.add(kind, outcome);
            tally.add(kind, outcome);
          });
        }
        t.diagnostic(own.toString());
        assertCaseTally(own, counts, ops);
      });
    }
  });

  it("every kind of outcome occurred: refused, uncertain and audit-failure at least", (t) => {
    t.diagnostic(`outcomes, the device dying at the Nth call: ${tally}`);
    assert.ok(tally.total > 0, "no faulty run was counted");
    assert.ok(tally.get("area", "refused") >= 1, `no refusal: ${tally}`);
    assert.ok(tally.get("area", "uncertain") >= 1, `no uncertain outcome: ${tally}`);
    assert.ok(tally.get("audit", "audit-failure") >= 1, `no audit-failure: ${tally}`);
  });
});
