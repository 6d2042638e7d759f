// The audit log after a crash or a full disk: a head that lags behind the log, and a record cut
// short mid-write. Neither may break the chain for the records that follow.
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type AuditEntry, AuditLog } from "../../src/audit/audit-log.js";
import { tempDir } from "../helpers/temp.js";

function entry(generation: number): AuditEntry {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, generation)).toISOString(),
    request: "reset",
    principal: "cli",
    outcome: "ok",
    generation,
    handle: "00112233445566778899aabbccddeeff",
  };
}

test("a head left one record behind (its rename lost in a crash) is accepted, and the next record follows the log", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  const first = log.append(entry(1));
  log.append(entry(2));
  writeFileSync(join(dir, "audit.head"), JSON.stringify({ seq: first.seq, hash: first.hash }));
  assert.equal(log.verify().intact, true, "a lagging head is what a lost rename leaves");
  const third = new AuditLog(dir).append(entry(3));
  assert.equal(third.seq, 3);
  const verdict = new AuditLog(dir).verify();
  assert.deepEqual([verdict.intact, verdict.records], [true, 3]);
});

test("a record cut short is cut off before the next one is written, and the chain stays intact", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  log.append(entry(1));
  log.append(entry(2));
  appendFileSync(join(dir, "audit.log"), '{"seq":3,"time":"2026-01-01T00:00:03.000Z","requ');
  assert.equal(new AuditLog(dir).verify().intact, false, "the torn line is caught while it is there");
  const next = new AuditLog(dir).append(entry(3));
  assert.equal(next.seq, 3);
  const text = readFileSync(join(dir, "audit.log"), "utf8");
  assert.ok(text.endsWith("\n"));
  assert.equal(text.split("\n").filter(Boolean).length, 3);
  assert.equal(new AuditLog(dir).verify().intact, true);
});

test("a head that runs ahead of the log (records removed from the end) is caught", (t) => {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir);
  log.append(entry(1));
  log.append(entry(2));
  const lines = readFileSync(join(dir, "audit.log"), "utf8").split("\n").filter(Boolean);
  writeFileSync(join(dir, "audit.log"), `${lines[0]}\n`);
  const verdict = new AuditLog(dir).verify();
  assert.equal(verdict.intact, false);
  if (!verdict.intact) assert.match(verdict.problem, /records were removed/);
});
