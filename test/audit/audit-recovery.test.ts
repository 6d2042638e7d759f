// The audit log after a crash or a full disk: an intent whose outcome never came, and a record cut
// short mid-write. Neither may break the chain for the records that follow (docs/spec.md §9.3).
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AuditLog } from "../../src/audit/audit-log.js";
import { resetEntry } from "../helpers/audit.js";
import { tempDir } from "../helpers/temp.js";

test("an intent left without its outcome (the process died after the commit) is accepted, and the next record follows it", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  log.append(resetEntry(1));
  const intent = log.append({ ...resetEntry(2), outcome: "pending", handle: null });
  assert.equal(new AuditLog(dir).verify({ generation: 2 }).intact, true, "the intent accounts for 2");
  const third = new AuditLog(dir).append(resetEntry(3));
  assert.deepEqual([third.seq, third.prev], [3, intent.hash]);
  const verdict = new AuditLog(dir).verify({ generation: 3 });
  assert.deepEqual([verdict.intact, verdict.records], [true, 3]);
});

test("a record cut short never counted: it is left out while it is there and cut off before the next one is written", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  log.append(resetEntry(1));
  log.append(resetEntry(2));
  appendFileSync(join(dir, "audit.log"), '{"seq":3,"time":"2026-01-01T00:00:03.000Z","requ');
  // A kill mid-write left it: it never counted, so verify() and read() leave it out (§9.3, §9.4).
  assert.deepEqual(new AuditLog(dir).verify({ generation: 2 }), {
    intact: true,
    records: 2,
    head: (new AuditLog(dir).read()[1] as { hash: string }).hash,
    key: "none",
  });
  assert.equal(new AuditLog(dir).read().length, 2);
  const next = new AuditLog(dir).append(resetEntry(3));
  assert.equal(next.seq, 3);
  const text = readFileSync(join(dir, "audit.log"), "utf8");
  assert.ok(text.endsWith("\n"));
  assert.equal(text.split("\n").filter(Boolean).length, 3);
  assert.equal(new AuditLog(dir).verify({ generation: 3 }).intact, true);
});

test("records removed from the end are caught by the generation the store committed", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  log.append(resetEntry(1));
  log.append(resetEntry(2));
  const lines = readFileSync(join(dir, "audit.log"), "utf8").split("\n").filter(Boolean);
  writeFileSync(join(dir, "audit.log"), `${lines[0]}\n`);
  const verdict = new AuditLog(dir).verify({ generation: 2 });
  assert.equal(verdict.intact, false);
  if (!verdict.intact) assert.match(verdict.problem, /generation 2, which the log does not account for/);
});
