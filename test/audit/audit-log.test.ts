// The audit log in-process (issue 4, part 4; issue 13, part 3): an append-only, hash-chained log
// whose commits the store's generation anchors. The chain is recomputed here from its description
// (SHA-256 over the record's canonical JSON without its hash, linked by `prev`), not taken from
// verify(). Then every way of tampering with it is tried on a copy of a good log: any field of any
// record edited (with or without its own hash recomputed), a record removed (first, middle, last),
// two records swapped, a record forged onto the end, the tail cut off. Each must fail verify(),
// given the generation the store has committed (docs/spec.md §9.4). What a crash leaves (an intent
// without its outcome, a torn line) must pass once the next append has carried on.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { type AuditEntry, AuditLog, type AuditRecord } from "../../src/audit/audit-log.js";
import { operations } from "../../src/audit/operations.js";
import { tempDir } from "../helpers/temp.js";

const GENESIS = "0".repeat(64);

const ENTRIES: readonly AuditEntry[] = [
  {
    time: "2026-01-01T00:00:00.000Z",
    request: "pin-set",
    principal: "cli",
    outcome: "ok",
    generation: 0,
    handle: null,
  },
  {
    time: "2026-01-01T00:00:01.000Z",
    request: "init",
    principal: "cli",
    outcome: "ok",
    generation: 1,
    handle: "00112233445566778899aabbccddeeff",
  },
  {
    time: "2026-01-01T00:00:02.000Z",
    request: "reset",
    principal: "web:pin",
    outcome: "wrong-pin",
    generation: 1,
    handle: "00112233445566778899aabbccddeeff",
  },
  {
    time: "2026-01-01T00:00:03.000Z",
    request: "schedule-reset",
    principal: "cli",
    outcome: "ok",
    generation: 1,
    handle: "00112233445566778899aabbccddeeff",
    detail: { at: "2026-02-01T00:00:00.000Z" },
  },
  {
    time: "2026-01-01T00:00:04.000Z",
    request: "reset",
    principal: "scheduler:cli",
    outcome: "ok",
    generation: 2,
    handle: "ffeeddccbbaa99887766554433221100",
    detail: { schedule: "0a1b2c3d", late: true },
  },
];

/** The canonical JSON the hash covers: keys sorted, undefined left out, no spaces. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function hashOf(record: object): string {
  const { hash: _, ...body } = record as AuditRecord;
  return createHash("sha256").update(canonical(body)).digest("hex");
}

/** The generation a store would be at after `entries`: the last one a generating request committed. */
function committedBy(entries: readonly AuditEntry[]): number {
  const generating = new Set(["init", "reset", "mode-random", "mode-factory"]);
  return Math.max(
    0,
    ...entries.filter((e) => generating.has(e.request) && e.outcome === "ok").map((e) => e.generation),
  );
}

interface Store {
  readonly dir: string;
  readonly log: string;
  lines(): string[];
  records(): AuditRecord[];
  writeLines(lines: readonly string[]): void;
  verdict(): ReturnType<AuditLog["verify"]>;
}

function store(t: TestContext, entries: readonly AuditEntry[] = ENTRIES): Store {
  const { dir } = tempDir(t, "reid-audit-");
  const audit = new AuditLog(dir);
  for (const entry of entries) audit.append(entry);
  const log = join(dir, "audit.log");
  const lines = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
  return {
    dir,
    log,
    lines,
    records: () => lines().map((line) => JSON.parse(line) as AuditRecord),
    writeLines: (next) => writeFileSync(log, next.map((line) => `${line}\n`).join("")),
    // A new instance each time: nothing cached from the appends; the store at the entries' generation.
    verdict: () => new AuditLog(dir).verify({ generation: committedBy(entries) }),
  };
}

function assertIntact(s: Store, records: number, what: string): void {
  const verdict = s.verdict();
  assert.ok(verdict.intact, `${what}: ${verdict.intact ? "" : verdict.problem}`);
  assert.equal(verdict.records, records, what);
}

function assertTampered(s: Store, what: string, problem?: RegExp): void {
  const verdict = s.verdict();
  assert.equal(verdict.intact, false, `${what} went unnoticed`);
  if (!verdict.intact && problem) assert.match(verdict.problem, problem, what);
}

/** A different value of the same kind, so the record still parses. */
function altered(value: unknown): unknown {
  if (typeof value === "number") return value + 1;
  if (typeof value === "boolean") return !value;
  if (typeof value === "string") {
    const last = value.at(-1) === "0" ? "1" : "0";
    return `${value.slice(0, -1)}${last}`;
  }
  if (value === null) return "00112233445566778899aabbccddeeff";
  if (typeof value === "object") return { ...(value as object), extra: 1 };
  throw new Error(`cannot alter ${String(value)}`);
}

describe("audit log: the chain", () => {
  it("numbers records from 1, links each to the one before, hashes its canonical JSON, and keeps no head file", (t) => {
    const s = store(t);
    const records = s.records();
    assert.equal(records.length, ENTRIES.length);
    let prev = GENESIS;
    for (const [i, record] of records.entries()) {
      const { seq, prev: link, hash, ...entry } = record;
      assert.equal(seq, i + 1);
      assert.equal(link, prev, `record ${seq} does not link to the one before`);
      assert.match(hash, /^[0-9a-f]{64}$/);
      assert.equal(hash, hashOf(record), `record ${seq}: hash is not SHA-256 of its canonical JSON`);
      assert.deepEqual(entry, ENTRIES[i], `record ${seq} does not say what was appended`);
      prev = hash;
    }
    assert.equal(existsSync(join(s.dir, "audit.head")), false, "a head file is written per record");
    const verdict = s.verdict();
    assert.deepEqual(verdict, { intact: true, records: ENTRIES.length, head: prev, key: "none" });
    assert.deepEqual(new AuditLog(s.dir).read(), records);
    // Private files, like everything else in the store.
    assert.equal(statSync(s.log).mode & 0o777, 0o600);
  });

  it("append() returns the record as written, only ever adds to the file, and a new instance carries on", (t) => {
    const s = store(t, ENTRIES.slice(0, 2));
    const before = readFileSync(s.log, "utf8");
    const record = new AuditLog(s.dir).append(ENTRIES[2] as AuditEntry);
    assert.equal(record.seq, 3);
    const after = readFileSync(s.log, "utf8");
    assert.ok(after.startsWith(before), "earlier records were rewritten");
    assert.equal(after.slice(before.length), `${JSON.stringify(record)}\n`);
    assertIntact(s, 3, "after a restart's append");
  });

  it("an empty or absent log verifies as intact with no records", (t) => {
    const { dir } = tempDir(t, "reid-audit-");
    assert.deepEqual(new AuditLog(dir).verify(), { intact: true, records: 0, head: GENESIS, key: "none" });
    assert.deepEqual(new AuditLog(dir).read(), []);
  });

  it("the hash does not depend on how a record's JSON was written (key order)", (t) => {
    const s = store(t);
    const lines = s.lines();
    const record = JSON.parse(lines[3] as string) as Record<string, unknown>;
    const reversed = Object.fromEntries(Object.entries(record).reverse());
    lines[3] = JSON.stringify(reversed);
    assert.notEqual(lines[3], s.lines()[3]);
    s.writeLines(lines);
    assertIntact(s, ENTRIES.length, "the same record with its keys reordered");
  });
});

describe("audit log: tampering is detected", () => {
  it("editing any field of any record", (t) => {
    const s = store(t);
    const good = s.lines();
    let tried = 0;
    for (const [i, line] of good.entries()) {
      const record = JSON.parse(line) as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const edited = { ...record, [key]: altered(record[key]) };
        s.writeLines(good.map((l, j) => (j === i ? JSON.stringify(edited) : l)));
        assertTampered(s, `record ${i + 1}: ${key} edited`);
        tried++;
      }
      // A field added or removed is an edit too.
      s.writeLines(good.map((l, j) => (j === i ? JSON.stringify({ ...record, note: "x" }) : l)));
      assertTampered(s, `record ${i + 1}: a field added`, /was altered/);
      const { principal: _, ...without } = record;
      s.writeLines(good.map((l, j) => (j === i ? JSON.stringify(without) : l)));
      assertTampered(s, `record ${i + 1}: a field removed`, /was altered/);
    }
    assert.ok(tried >= ENTRIES.length * 9);
    s.writeLines(good);
    assertIntact(s, ENTRIES.length, "restored");
  });

  it("editing a record and recomputing its hash, or the whole chain after it", (t) => {
    const s = store(t);
    const good = s.lines();
    // The record after it no longer follows (the last one has none: it is covered below).
    for (const i of good.keys()) {
      if (i === good.length - 1) continue;
      const records = good.map((line) => JSON.parse(line) as AuditRecord);
      const edited = { ...(records[i] as AuditRecord), outcome: "ok", principal: "someone-else" };
      const own = { ...edited, hash: hashOf(edited) };
      s.writeLines(good.map((l, j) => (j === i ? JSON.stringify(own) : l)));
      assertTampered(s, `record ${i + 1} edited with its own hash recomputed`);
    }
    // Every later record re-linked and rehashed: the chain is not keyed, so only what the store
    // anchors still tells: a commit's record turned into something else.
    for (const i of [1, 4]) {
      const records = good.map((line) => JSON.parse(line) as AuditRecord);
      const edited = { ...(records[i] as AuditRecord), request: "export" };
      const chain = [...records];
      chain[i] = { ...edited, hash: hashOf(edited) };
      for (let j = i + 1; j < chain.length; j++) {
        const relinked = { ...(chain[j] as AuditRecord), prev: (chain[j - 1] as AuditRecord).hash };
        chain[j] = { ...relinked, hash: hashOf(relinked) };
      }
      s.writeLines(chain.map((record) => JSON.stringify(record)));
      assertTampered(s, `record ${i + 1} edited and the chain recomputed`, /does not account for/);
    }
  });

  it("removing a record: the first, one in the middle, the last", (t) => {
    const s = store(t);
    const good = s.lines();
    for (const [which, index, problem] of [
      ["first", 0, /sequence number 2, expected 1/],
      ["middle", 2, /sequence number 4, expected 3/],
      ["last", good.length - 1, /generation 2, which the log does not account for/],
    ] as const) {
      s.writeLines(good.filter((_, j) => j !== index));
      assertTampered(s, `the ${which} record removed`, problem);
    }
    // Several, from the end; and all of them.
    s.writeLines(good.slice(0, 2));
    assertTampered(s, "the last three records removed", /generation 2, which/);
    s.writeLines([]);
    assertTampered(s, "every record removed", /generation 1, 2, which/);
    rmSync(s.log);
    assertTampered(s, "the log deleted", /generation 1, 2, which/);
    const verdict = s.verdict();
    assert.deepEqual(verdict.intact ? null : verdict.unaccounted, [1, 2]);
  });

  it("removing records from the end stays detected after the next append", (t) => {
    const s = store(t);
    s.writeLines(s.lines().slice(0, 3));
    new AuditLog(s.dir).append(ENTRIES[0] as AuditEntry);
    assertTampered(s, "records removed, then one appended", /generation 2, which/);
  });

  it("reordering records", (t) => {
    const s = store(t);
    const good = s.lines();
    for (const [a, b] of [
      [0, 1],
      [1, 2],
      [3, 4],
      [0, 4],
    ] as const) {
      const swapped = [...good];
      [swapped[a], swapped[b]] = [good[b] as string, good[a] as string];
      s.writeLines(swapped);
      assertTampered(s, `records ${a + 1} and ${b + 1} swapped`, /sequence number/);
    }
    s.writeLines([...good].reverse());
    assertTampered(s, "the log reversed");
  });

  it("forging records onto the end", (t) => {
    const s = store(t);
    const good = s.lines();
    const records = s.records();
    const last = records.at(-1) as AuditRecord;

    // A replay of an earlier record.
    s.writeLines([...good, good[1] as string]);
    assertTampered(s, "an earlier record replayed", /sequence number 2, expected 6/);
    s.writeLines([...good, good.at(-1) as string]);
    assertTampered(s, "the last record repeated", /sequence number 5, expected 6/);

    // A new record with a made-up hash, or one that does not link to the last.
    const body = { seq: last.seq + 1, ...(ENTRIES[1] as AuditEntry), prev: last.hash };
    s.writeLines([...good, JSON.stringify({ ...body, hash: "f".repeat(64) })]);
    assertTampered(s, "a forged record with a made-up hash", /record 6 was altered/);
    const unlinked = { ...body, prev: records[2]?.hash as string };
    s.writeLines([...good, JSON.stringify({ ...unlinked, hash: hashOf(unlinked) })]);
    assertTampered(s, "a forged record linked to another", /does not follow the record before it/);

    // Correctly chained and hashed records appended cannot be told from real ones (the chain is not
    // keyed, docs/spec.md §9.4); what they cannot do is hide a commit.
  });

  it("cutting off the tail, at a line break or mid-record", (t) => {
    const s = store(t);
    const text = readFileSync(s.log, "utf8");
    const lastStart = text.lastIndexOf("\n", text.length - 2) + 1;
    for (const cut of [text.length - 2, text.length - 20, lastStart + 1, lastStart, lastStart - 30, 1, 0]) {
      writeFileSync(s.log, text.slice(0, cut));
      assertTampered(s, `the log cut at byte ${cut} of ${text.length}`);
    }
    writeFileSync(s.log, text);
    assertIntact(s, ENTRIES.length, "restored");
  });

  it("a line that is not a record", (t) => {
    const s = store(t);
    const good = s.lines();
    s.writeLines([...good.slice(0, 2), "not json", ...good.slice(2)]);
    assertTampered(s, "a junk line inserted", /record 3 is not JSON/);
    s.writeLines(good.map((line, i) => (i === 1 ? line.slice(0, -1) : line)));
    assertTampered(s, "a record's closing brace removed", /record 2 is not JSON/);
  });

  it("a store ahead of the log: a commit the log never saw", (t) => {
    const s = store(t);
    const verdict = new AuditLog(s.dir).verify({ generation: 3 });
    assert.equal(verdict.intact, false);
    if (!verdict.intact) assert.deepEqual(verdict.unaccounted, [3]);
    // A refusal at generation 3 does not account for it: nothing was committed by it.
    new AuditLog(s.dir).append({ ...(ENTRIES[2] as AuditEntry), generation: 3 });
    assert.equal(new AuditLog(s.dir).verify({ generation: 3 }).intact, false);
  });
});

describe("audit log: crashes", () => {
  it("an intent whose outcome was lost accounts for its commit, and one whose commit never came does no harm", (t) => {
    const s = store(t);
    const intent: AuditEntry = {
      ...(ENTRIES[4] as AuditEntry),
      outcome: "pending",
      generation: 3,
      handle: null,
    };
    const written = new AuditLog(s.dir).append(intent);
    // The process died after the commit: the store is at 3, the outcome never written.
    assert.equal(new AuditLog(s.dir).verify({ generation: 3 }).intact, true);
    // Or before it: the store is still at 2, and the next reset's intent names 3 again.
    assert.equal(new AuditLog(s.dir).verify({ generation: 2 }).intact, true);
    const again = new AuditLog(s.dir).append(intent);
    const outcome = new AuditLog(s.dir).append(
      { ...(ENTRIES[4] as AuditEntry), generation: 3, of: again.seq },
      { sync: false },
    );
    assert.equal(new AuditLog(s.dir).verify({ generation: 3 }).intact, true);
    // As operations: the intent with an outcome folds into it; the orphaned one stays, pending.
    const seqs = operations(new AuditLog(s.dir).read()).map((r) => [r.seq, r.outcome]);
    assert.deepEqual(seqs.slice(-2), [
      [written.seq, "pending"],
      [outcome.seq, "ok"],
    ]);
  });

  it("a journaled commit's intent, with no outcome, is ok once the store has its generation, unless a later intent names it again", (t) => {
    const s = store(t);
    const intent = (generation: number, handle: string | null): AuditEntry => ({
      ...(ENTRIES[1] as AuditEntry),
      request: "reset",
      outcome: "pending",
      generation,
      handle,
    });
    // A reset whose process died before its commit, then its retry of the same generation.
    const crashed = new AuditLog(s.dir).append(intent(3, "aa".repeat(16)));
    const shown = (committed?: { generation: number }) =>
      operations(new AuditLog(s.dir).read(), committed)
        .filter((r) => r.seq >= crashed.seq)
        .map((r) => [r.seq, r.outcome]);
    assert.deepEqual(shown({ generation: 2 }), [[crashed.seq, "pending"]], "the store never reached it");
    assert.deepEqual(shown({ generation: 3 }), [[crashed.seq, "ok"]], "the store has its generation");
    const retry = new AuditLog(s.dir).append(intent(3, "bb".repeat(16)));
    // Generation 3 was committed once: by the later intent, the one that names it last.
    assert.deepEqual(shown({ generation: 3 }), [
      [crashed.seq, "pending"],
      [retry.seq, "ok"],
    ]);
    assert.deepEqual(shown({ generation: 2 }), [
      [crashed.seq, "pending"],
      [retry.seq, "pending"],
    ]);
    // An erase leaves the generation where it is: its records do not unmake the retry's commit.
    const erase = new AuditLog(s.dir).append({ ...intent(3, null), request: "erase" });
    new AuditLog(s.dir).append({ ...intent(3, null), request: "erase", outcome: "ok", of: erase.seq });
    // A later reset (generation 4), committed too: each intent stands for its own generation.
    const next = new AuditLog(s.dir).append(intent(4, "cc".repeat(16)));
    assert.deepEqual(shown({ generation: 4 }), [
      [crashed.seq, "pending"],
      [retry.seq, "ok"],
      [erase.seq + 1, "ok"],
      [next.seq, "ok"],
    ]);
    // Without the store's record (it could not be read) nothing is folded; nor is an intent that
    // names no handle (a commit not journaled keeps its outcome record).
    assert.deepEqual(
      shown().map(([, outcome]) => outcome),
      ["pending", "pending", "ok", "pending"],
    );
    new AuditLog(s.dir).append(intent(5, null));
    assert.equal(operations(new AuditLog(s.dir).read(), { generation: 5 }).at(-1)?.outcome, "pending");
    // The log itself is as verify wants it: a pending intent accounts for its generation.
    assert.equal(new AuditLog(s.dir).verify({ generation: 5 }).intact, true);
  });

  it("a head file of an earlier version is not trusted, and goes at the next append", (t) => {
    const s = store(t, ENTRIES.slice(0, 2));
    writeFileSync(join(s.dir, "audit.head"), JSON.stringify({ seq: 9, hash: GENESIS }));
    assertIntact(s, 2, "a stale head");
    new AuditLog(s.dir).append(ENTRIES[2] as AuditEntry);
    assert.equal(existsSync(join(s.dir, "audit.head")), false);
  });

  it("a record cut short by a crash never counted: left out until the next append cuts it off", (t) => {
    const s = store(t, ENTRIES.slice(0, 3));
    const text = readFileSync(s.log, "utf8");
    writeFileSync(s.log, `${text}{"seq":4,"time":"2026-01-01T00:0`);
    assertIntact(s, 3, "a torn last line, as a kill mid-write leaves it");
    // Only after the last newline: a torn line followed by another is not JSON.
    writeFileSync(s.log, `${text}{"seq":4,"time":"2026-01-01T00:0\n`);
    assertTampered(s, "a torn line before the end", /record 4 is not JSON/);
    writeFileSync(s.log, `${text}{"seq":4,"time":"2026-01-01T00:0`);
    const next = new AuditLog(s.dir).append(ENTRIES[3] as AuditEntry);
    assert.equal(next.seq, 4);
    assert.ok(readFileSync(s.log, "utf8").startsWith(text));
    assertIntact(s, 4, "after the next append");
  });
});
