// The audit journal (docs/spec.md §9.3): a commit carries the audit log's lines not yet known
// durable in the log, its intent last, in the same durable write as its record. These tests play
// a power loss the way it strikes: the log's unsynced tail is gone, the store's record is not.
import assert from "node:assert/strict";
import {
  appendFileSync,
  cpSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AuditLog, journalLines as linesOf } from "../../src/audit/audit-log.js";
import { BINDINGS_FILE } from "../../src/binding/bindings-file.js";
import { openComposedElement } from "../../src/daemon/compose.js";
import { openElement } from "../../src/element/element.js";
import { AREA_FILE } from "../../src/storage/file/file-area.js";
import { decodeJournal, encodeJournal } from "../../src/storage/journal.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const open = (store: string, write: boolean) =>
  openElement({ storeDirectory: store, source: { kind: "os" }, write, lockTimeoutMs: 1000 });

/** The element composed with its bindings, as the daemon and the CLI run it. */
const openComposed = (store: string) =>
  openComposedElement({ storeDirectory: store, source: { kind: "os" }, write: true, lockTimeoutMs: 1000 });

/** init and `resets` resets in one process, so the later intents travel in journals. */
async function resetMany(store: string, resets: number): Promise<void> {
  const element = await open(store, true);
  await element.control.submit({ type: "init" });
  for (let i = 0; i < resets; i++) await element.control.submit({ type: "reset" });
  await element.close();
}

async function resetOnce(store: string): Promise<void> {
  const element = await open(store, true);
  await element.control.submit({ type: "reset" });
  await element.close();
}

/** The lines the record in force carries. */
async function journalLines(store: string): Promise<string[]> {
  const opened = await openFileStore(store, { write: false, lockTimeoutMs: 1000 });
  try {
    const journal = await opened.journal();
    return journal ? linesOf(journal) : [];
  } finally {
    await opened.close();
  }
}

const logLines = (store: string) =>
  readFileSync(join(store, "audit.log"), "utf8").split("\n").filter(Boolean);

/** The log as a power loss could leave it: its last `lost` lines never reached the disk. */
function loseTail(store: string, lost: number): void {
  const lines = logLines(store);
  writeFileSync(
    join(store, "audit.log"),
    lines
      .slice(0, lines.length - lost)
      .map((l) => `${l}\n`)
      .join(""),
  );
}

async function verdict(store: string) {
  const element = await open(store, false);
  try {
    return (await element.control.auditLog()).verdict;
  } finally {
    await element.close();
  }
}

test("a commit carries the log's unsynced lines: whatever tail of them a power loss takes, the log is whole again", async (t) => {
  const { store: base } = tempDir(t);
  await resetMany(base, 4);
  const carried = await journalLines(base);
  const full = logLines(base);
  assert.ok(carried.length >= 1, "the last commit carried no journal");
  // The last commit's intent is the journal's last line and the log's: a journaled reset that
  // succeeds writes no outcome after it (docs/spec.md §9.3).
  assert.equal(carried.at(-1), full.at(-1));
  assert.match(carried.at(-1) ?? "", /"outcome":"pending","generation":5,"handle":"[0-9a-f]{32}"/);
  // Lose the last line alone, then each longer tail the journal covers, up to all of it.
  for (let lost = 1; lost <= carried.length; lost++) {
    const { store } = tempDir(t);
    cpSync(base, store, { recursive: true });
    loseTail(store, lost);
    // A reader folds the journal in; the store's generation is accounted for.
    const before = await verdict(store);
    assert.equal(before.intact, true, `${lost} lines lost: ${before.intact ? "" : before.problem}`);
    // A writer takes the lines back into the file before its first record: none stays lost.
    await resetOnce(store);
    assert.deepEqual(logLines(store).slice(0, full.length), full);
    assert.equal((await verdict(store)).intact, true);
  }
});

test("a journal carries its lines short, without the chain's links, and gives back the log's very bytes", async (t) => {
  const { store } = tempDir(t);
  await resetMany(store, 20);
  const opened = await openFileStore(store, { write: false, lockTimeoutMs: 1000 });
  const journal = await opened.journal();
  await opened.close();
  assert.ok(journal, "the record in force carries no journal");
  const raw = Buffer.from(journal).toString("utf8").split("\n").filter(Boolean);
  // The chain's start, then one short line per record: no "prev" or "hash" but the start's.
  assert.match(raw[0] ?? "", /^\{"prev":"[0-9a-f]{64}"\}$/);
  for (const line of raw.slice(1)) assert.doesNotMatch(line, /"prev"|"hash"/);
  // Short lines hold about twice the records whole ones did (twelve resets): the log syncs half as often.
  assert.ok(raw.length - 1 >= 20, `a journal carried ${raw.length - 1} of 20 resets`);
  const full = logLines(store);
  assert.deepEqual(linesOf(journal), full.slice(-(raw.length - 1)));
  // A short line that was altered comes back with a chain of its own, which the log's does not continue.
  const forged = Buffer.from(
    [raw[0], ...raw.slice(1).map((l) => l.replace('"principal":"cli"', '"principal":"web:pin"'))].join("\n"),
  );
  const rebuilt = linesOf(forged);
  assert.notDeepEqual(rebuilt, full.slice(-(raw.length - 1)));
  assert.equal(JSON.parse(rebuilt[0] ?? "{}").prev, JSON.parse(full.at(-(raw.length - 1)) ?? "{}").prev);
});

test("an element's close lets go of its audit log's file", async (t) => {
  const { store } = tempDir(t);
  const openLogs = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === join(store, "audit.log");
      } catch {
        return false;
      }
    }).length;
  const element = await open(store, true);
  await element.control.submit({ type: "init" });
  await element.control.submit({ type: "reset" });
  assert.equal(openLogs(), 1, "the log is not kept open between records");
  await element.close();
  assert.equal(openLogs(), 0, "a closed element still holds its audit log open");
});

test("a power loss that also left half a line: the journal's lines still come back after it is cut off", async (t) => {
  const { store } = tempDir(t);
  await resetMany(store, 4);
  const full = logLines(store);
  loseTail(store, 3);
  appendFileSync(join(store, "audit.log"), full.at(-3)?.slice(0, 40) ?? "");
  assert.equal((await verdict(store)).intact, true);
  await resetOnce(store);
  assert.deepEqual(logLines(store).slice(0, full.length), full);
  assert.equal((await verdict(store)).intact, true);
});

test("lines lost beyond what the journal carries are a gap: nothing is taken back, and verify reports the generation", async (t) => {
  const { store } = tempDir(t);
  await resetMany(store, 4);
  const carried = await journalLines(store);
  // One line more than the journal: it no longer continues the log.
  loseTail(store, carried.length + 1);
  const kept = logLines(store);
  const seen = await verdict(store);
  assert.equal(seen.intact, false);
  if (!seen.intact) assert.match(seen.problem, /which the log does not account for/);
  await resetOnce(store);
  const after = logLines(store);
  assert.deepEqual(after.slice(0, kept.length), kept);
  assert.equal(after.length, kept.length + 1, "a journal that does not continue the log was appended");
});

test("a journal whose lines do not continue the log's chain is not taken back", (t) => {
  const [ours, theirs] = [tempDir(t).dir, tempDir(t).dir];
  const init = (principal: string) =>
    ({
      time: "2026-01-01T00:00:00.000Z",
      request: "init",
      principal,
      outcome: "ok",
      generation: 1,
      handle: null,
    }) as const;
  new AuditLog(ours).append(init("cli"));
  const other = new AuditLog(theirs);
  other.append(init("scheduler"));
  other.append({ ...init("scheduler"), request: "reset", outcome: "pending", generation: 2 });
  // The next sequence number, but linked to another record 1: it does not follow ours.
  const foreign = Buffer.from(`${logLines(theirs)[1]}\n`);
  assert.equal(new AuditLog(ours).recover(foreign), 0);
  assert.equal(logLines(ours).length, 1);
  // The same line does follow its own log's record 1 (the check can pass).
  writeFileSync(join(theirs, "audit.log"), `${logLines(theirs)[0]}\n`);
  assert.equal(new AuditLog(theirs).recover(foreign), 1);
});

test("a journal is bound to its record's epoch and refused when torn", () => {
  const lines = Buffer.from('{"seq":1}\n');
  const journal = encodeJournal(7, lines);
  assert.deepEqual(Buffer.from(decodeJournal(journal, 7) ?? []), lines);
  assert.equal(decodeJournal(journal, 8), null, "a journal beside another record was read");
  for (let at = 0; at < journal.length; at++) {
    const torn = Uint8Array.from(journal);
    torn[at] = (torn[at] ?? 0) ^ 0x01;
    assert.equal(decodeJournal(torn, 7), null, `a flip at byte ${at} went unnoticed`);
  }
  assert.equal(decodeJournal(new Uint8Array(AREA_FILE), 7), null);
});

test("a store whose area files predate journals takes its first journal, growing them once", async (t) => {
  const { store } = tempDir(t);
  await resetMany(store, 1);
  // Area files as an earlier version made them: the record alone.
  for (const name of ["area-0", "area-1"]) truncateSync(join(store, name), 256);
  const element = await open(store, true);
  for (let i = 0; i < 3; i++) await element.control.submit({ type: "reset" });
  await element.close();
  const sizes = ["area-0", "area-1"].map((name) => statSync(join(store, name)).size);
  assert.ok(sizes.includes(AREA_FILE), `no area file grew to take a journal: ${sizes.join(", ")}`);
  assert.ok((await journalLines(store)).length >= 1, "the record in force carries no journal");
  assert.equal((await verdict(store)).intact, true);
});

test("composed with its bindings, as the daemon and the CLI run it, a reset journals its intent unless there are bindings to revoke", async (t) => {
  const { store } = tempDir(t);
  const composed = async (requests: readonly ("init" | "reset")[]) => {
    const element = await openComposed(store);
    try {
      for (const type of requests) await element.control.submit({ type });
    } finally {
      await element.close();
    }
  };
  await composed(["init", "reset", "reset"]);
  assert.match(
    (await journalLines(store)).at(-1) ?? "",
    /"request":"reset".*"outcome":"pending","generation":3/,
  );
  // With bindings, devices are told before the change: the intent goes to the log, synced, first.
  writeFileSync(join(store, BINDINGS_FILE), "{}", { mode: 0o600 });
  await composed(["reset"]);
  assert.deepEqual(
    await journalLines(store),
    [],
    "a reset with bindings to revoke carried its intent in a journal",
  );
  assert.match(logLines(store).at(-2) ?? "", /"outcome":"pending","generation":4/);
});

test("a journaled reset writes one audit line, its intent naming the new handle; a reset with bindings to revoke writes two", async (t) => {
  const { store } = tempDir(t);
  const element = await openComposed(store);
  try {
    await element.control.submit({ type: "init" });
    const before = logLines(store).length;
    const reset = await element.control.submit({ type: "reset" });
    const added = logLines(store).slice(before);
    assert.equal(added.length, 1, `a journaled reset wrote ${added.length} lines`);
    const intent = JSON.parse(added[0] as string) as Record<string, unknown>;
    assert.deepEqual(
      [intent.request, intent.outcome, intent.generation, intent.handle, intent.of],
      ["reset", "pending", reset.generation, reset.handle, undefined],
    );
    // Shown as the operation it was: ok, with the handle the reset announced.
    const shown = (await element.control.auditLog()).records.at(-1);
    assert.deepEqual([shown?.outcome, shown?.handle], ["ok", reset.handle]);

    // With bindings, devices are told before the change: the intent (no handle yet) is synced
    // first, and the outcome follows it.
    writeFileSync(join(store, BINDINGS_FILE), "{}", { mode: 0o600 });
    const mark = logLines(store).length;
    const revoked = await element.control.submit({ type: "reset" });
    const two = logLines(store)
      .slice(mark)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      two.map((r) => [r.request, r.outcome, r.generation, r.handle, r.of]),
      [
        ["reset", "pending", revoked.generation, null, undefined],
        ["reset", "ok", revoked.generation, revoked.handle, two[0]?.seq],
      ],
    );
  } finally {
    await element.close();
  }
  assert.equal((await verdict(store)).intact, true);
});
