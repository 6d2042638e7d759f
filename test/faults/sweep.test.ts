// Every storage call of a request, failed in turn. A request's matching calls on the store are
// first counted (the shim logs them, failing none); then, for each kind of call and each N, only
// the Nth call fails. A request writes two kinds of files in its store: the audit log (its intent,
// before anything changes, and, for an erase, its outcome after: an init or reset that succeeds has
// its intent as its one record) and its area files (the element). A fault on an
// area file ends in one of: exit 0 with the request carried out and no trace of the old
// identifier; exit 6 with the previous record in force, byte for byte; or exit 6 saying the request
// is in force but the identifier it superseded could not be overwritten. A fault on the audit log
// ends in one of two ways (docs/spec.md §2.9): on the intent, exit 6 "audit-failure", the request
// refused and nothing changed; on the outcome, after the commit, exit 0 and carried out, the
// intent accounting for it. Status works after every run, both areas are always whole, the audit
// log never holds a torn line nor an "ok" record for a request that was not carried out, it
// verifies against the store's generation after every run (no commit unaccounted for), and a
// fault-free reset afterwards works and leaves no trace of the identifier the faulty run started
// from. A second sweep lets the device die at the Nth call (that call and every later one fail):
// then a refusal that could not undo its half-written area must say the new record may be in
// force, and the record in force is still a whole one. Each sweep counts its outcomes and checks
// that every one of them, "audit-refused" included, actually occurred.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { AuditLog } from "../../src/audit/audit-log.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type AuditLine,
  assertAreasWhole,
  assertAuditRefusal,
  assertDone,
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

type Outcome = "done" | "refused" | "uncertain" | "lingering" | "audit-refused";
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
  for (const line of readFaultLog(log)) {
    assert.ok(!line.failed);
    const kind = fileKind(store, line.path);
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
  return fileKind(store, failed.path);
}

/**
 * Where the first failed call stands against the audit log's calls of the run (only the calls of
 * the ops under test are logged): `intent` when an audit call came before it (the intent was
 * written first), `outcome` when it is an audit call and one of the same op came before it (the
 * intent's open and write come before the outcome's; only the intent is synced).
 */
function auditPosition(store: string, log: string): { intent: boolean; outcome: boolean } {
  const lines = readFaultLog(log);
  const at = lines.findIndex((line) => line.failed);
  const failed = lines[at];
  assert.ok(failed, "the shim failed no call");
  const earlier = lines.slice(0, at).filter((line) => fileKind(store, line.path) === "audit");
  return {
    intent: earlier.length > 0,
    outcome:
      fileKind(store, failed.path) === "audit" &&
      earlier.some((line) => opOf(line.call) === opOf(failed.call)),
  };
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
 * Exit 0 and carried out; exit 6 "audit-failure" and nothing changed; or exit 6 and nothing
 * changed; `uncertain` allows the documented fourth case.
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
    // Its intent could not be written: refused before anything changed, and the message says so.
    assertAuditRefusal(result, request, message);
    assert.deepEqual(
      { state: now.state, generation: now.generation },
      { state: old.state, generation: old.generation },
    );
    assert.equal(
      snap.current?.epoch ?? 0,
      old.snap.current?.epoch ?? 0,
      "refused, but something was committed",
    );
    return "audit-refused";
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
 * What the run left in the audit log. It only ever grows (the old lines stay as they were), every
 * line is whole JSON, and it accounts for every generation the store has committed. A request
 * refused for its intent added nothing. Any other began with its intent ("pending", the generation
 * the commit would leave); then its outcome, naming the intent: "ok" when carried out (absent when
 * the fault took the outcome's own write: `outcomeLost`; and for an init or reset, whose intent
 * names the handle and is its one record, docs/spec.md §9.3), the refusal's code when not; the
 * refusal's record is dropped when the device was dead (`deviceDead`). Never "ok" for a request
 * that was not carried out.
 */
function assertAudited(
  request: Request,
  store: string,
  old: Before,
  outcome: Outcome,
  faults: { readonly deviceDead: boolean; readonly outcomeLost: boolean; readonly intent: boolean },
  generation: number,
): void {
  const text = readLog(store);
  assert.ok(text.startsWith(old.log), "the audit log's earlier records were changed");
  const added = auditLog(store, `after the faulty run (${outcome})`).slice(old.records.length);
  for (const record of added) assert.equal(record.request, request);
  const verdict = new AuditLog(store).verify({ generation });
  assert.ok(verdict.intact, `the log does not verify: ${verdict.intact ? "" : verdict.problem}`);
  const target = carriedOut(request, old).generation;
  const shown = added.map(({ outcome, generation, of }) => ({ outcome, generation, of }));
  if (outcome === "audit-refused") {
    assert.deepEqual(shown, [], "a request refused for its intent left records");
    return;
  }
  // A refusal found before the intent (reading the areas failed) is one record, synced.
  const intent = faults.intent ? [{ outcome: "pending", generation: target, of: undefined }] : [];
  const of = faults.intent ? old.records.length + 1 : undefined;
  switch (outcome) {
    case "done":
      assert.deepEqual(
        shown,
        faults.outcomeLost || request !== "erase"
          ? intent
          : [...intent, { outcome: "ok", generation: target, of }],
      );
      break;
    default: {
      assert.ok(
        added.every((record) => record.outcome !== "ok"),
        `a request that was not carried out (${outcome}) is recorded as "ok"`,
      );
      if (faults.deviceDead) {
        assert.deepEqual(shown, intent, "the device was dead, yet a refusal was written");
      } else if (outcome === "refused") {
        assert.deepEqual(
          shown,
          [...intent, { outcome: "storage-failure", generation: old.generation, of }],
          "the refusal was not recorded",
        );
      } else {
        assert.deepEqual(
          shown,
          [...intent, { outcome: "erase-incomplete", generation: target, of }],
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
  assertDone(records.at(-1), "reset", done.generation);
  const old_ = old.snap.current?.identifier;
  if (old_) {
    const snap = snapshot(store);
    for (const raw of snap.raw) {
      assert.ok(raw && !containsBytes(raw, old_), "the old identifier is still in an area file");
    }
  }
}

/**
 * One faulty run's outcome against where the fault hit: on the audit log, refused when it hit the
 * intent and carried out when it hit the outcome, after the commit; on an area file, never an
 * audit refusal. Then what the run left in the log, and the recovery.
 */
async function assertRun(
  request: Request,
  store: string,
  old: Before,
  run: {
    readonly kind: Kind;
    readonly outcome: Outcome;
    readonly position: { readonly intent: boolean; readonly outcome: boolean };
    readonly deviceDead?: boolean;
  },
): Promise<void> {
  const { kind, outcome, position } = run;
  if (kind === "audit") {
    assert.equal(
      outcome,
      position.outcome ? "done" : "audit-refused",
      `a fault on the audit log ended ${outcome}`,
    );
  } else {
    assert.notEqual(outcome, "audit-refused", "a fault on an area file, yet an audit refusal");
  }
  const generation = (await status(store)).generation;
  const faults = {
    deviceDead: run.deviceDead ?? false,
    outcomeLost: kind === "audit",
    intent: position.intent,
  };
  assertAudited(request, store, old, outcome, faults, generation);
  await assertRecovers(store, old);
}

/** Per case: which outcomes a fault on each kind of file may have, and which must have occurred. */
function assertCaseTally(tally: Tally, counts: Record<Kind, Counts>, ops: readonly FaultOp[]): void {
  const auditCalls = ops.reduce((sum, op) => sum + counts.audit[op], 0);
  assert.equal(
    tally.get("audit", "audit-refused") + tally.get("audit", "done"),
    auditCalls,
    "an audit fault ended otherwise than refused (the intent) or done (the outcome)",
  );
  assert.ok(tally.get("audit", "audit-refused") >= 1, "no audit fault refused the request");
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
        // And its audit records: the log opened once and kept open, the intent appended (write,
        // sync), an erase's outcome (write); an init or reset that succeeds writes no outcome.
        const records = request === "erase" ? 2 : 1;
        for (const [op, least] of [
          ["open", 1],
          ["write", records],
          ["fsync", 1],
        ] as const)
          assert.ok(counts.audit[op] >= least, `only ${counts.audit[op]} ${op} calls on the audit log`);
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
              if (nth === 1 && op !== "open")
                assert.equal(outcome, "audit-refused", "the first call failed, yet the request went on");
              await assertRun(request, store, old, { kind, outcome, position: auditPosition(store, log) });
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

  it("every kind of outcome occurred: refused, lingering, audit-refused and done after an audit fault", (t) => {
    t.diagnostic(`outcomes, the Nth call failing: ${tally}`);
    assert.ok(tally.total > 0, "no faulty run was counted");
    assert.ok(tally.get("area", "refused") >= 1, `no refusal: ${tally}`);
    assert.ok(tally.get("audit", "audit-refused") >= 1, `no audit refusal: ${tally}`);
    assert.ok(tally.get("audit", "done") >= 1, `no lost outcome: ${tally}`);
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
            if (nth === 1)
              assert.equal(outcome, "audit-refused", "the first write failed, yet the request went on");
            // A fault on an area file: the refusal's own record failed too, and was dropped.
            const position = auditPosition(store, log);
            await assertRun(request, store, old, { kind, outcome, position, deviceDead: kind === "area" });
            own.add(kind, outcome);
            tally.add(kind, outcome);
          });
        }
        t.diagnostic(own.toString());
        assertCaseTally(own, counts, ops);
      });
    }
  });

  it("every kind of outcome occurred: refused, uncertain and audit-refused at least", (t) => {
    t.diagnostic(`outcomes, the device dying at the Nth call: ${tally}`);
    assert.ok(tally.total > 0, "no faulty run was counted");
    assert.ok(tally.get("area", "refused") >= 1, `no refusal: ${tally}`);
    assert.ok(tally.get("area", "uncertain") >= 1, `no uncertain outcome: ${tally}`);
    assert.ok(tally.get("audit", "audit-refused") >= 1, `no audit refusal: ${tally}`);
  });
});
