// The audit log rotates (docs/spec.md §9.6): past a size, audit.log is renamed aside (audit.log.1,
// .2, .3; the oldest dropped) and the new file's first record chains on from the last of the file
// before. The total size stays bounded however many records are written, verify() checks the chain
// across the kept files from the first kept record, and the generations before it are not
// "unaccounted". Then the attacker's edits of rotated files: each must fail verify(). And every
// state a crash can leave between the renames of a rotation verifies, and the log carries on.
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { AuditLog, type AuditRecord } from "../../src/audit/audit-log.js";
import { KEEP } from "../../src/audit/log-files.js";
import { resetEntry } from "../helpers/audit.js";
import { assertOneLineError, reid } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const ROTATE = 2000;

function files(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith("audit.log"))
    .sort();
}

/** One file's records, as written. */
function recordsOf(path: string): AuditRecord[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditRecord);
}

/** A log of `count` resets (generation i by record i) rotated at ROTATE bytes. */
function written(t: TestContext, count: number): { dir: string; log: AuditLog } {
  const { dir } = tempDir(t);
  const log = new AuditLog(dir, { rotateBytes: ROTATE });
  for (let i = 1; i <= count; i++) log.append(resetEntry(i));
  return { dir, log };
}

/** The file names in the order they are read: oldest (highest number) first, audit.log last. */
function ordered(dir: string): string[] {
  const number = (name: string) => Number(/\.(\d+)$/.exec(name)?.[1] ?? 0);
  return files(dir).sort((a, b) => number(b) - number(a));
}

describe("audit log rotation", () => {
  it("keeps the total size bounded and the chain whole across the kept files", (t) => {
    const { dir, log } = written(t, 600);
    assert.deepEqual(files(dir), ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]);
    const recordSize = statSync(join(dir, "audit.log.1")).size / recordsOf(join(dir, "audit.log.1")).length;
    const total = files(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    assert.ok(total <= (KEEP + 1) * (ROTATE + recordSize), `${total} bytes kept`);

    // Read as one chain: each file's first record follows the last of the file before.
    const chain = ordered(dir).flatMap((name) => recordsOf(join(dir, name)));
    for (let i = 1; i < chain.length; i++) {
      assert.equal(chain[i]?.seq, (chain[i - 1]?.seq ?? 0) + 1);
      assert.equal(chain[i]?.prev, chain[i - 1]?.hash);
    }
    assert.equal(chain.at(-1)?.seq, 600);
    assert.deepEqual(
      log.read().map((r) => r.seq),
      chain.map((r) => r.seq),
    );
    const first = chain[0] as AuditRecord;
    assert.ok(first.seq > 1, "nothing was rotated out");
    assert.deepEqual(log.verify({ generation: 600 }), {
      intact: true,
      records: chain.length,
      head: chain.at(-1)?.hash,
      from: first.seq,
      key: "none",
    });

    // Another process carries the chain on.
    const next = new AuditLog(dir, { rotateBytes: ROTATE }).append(resetEntry(601));
    assert.equal(next.seq, 601);
    assert.equal(next.prev, chain.at(-1)?.hash);
  });

  it("a log not yet rotated out still verifies from record 1", (t) => {
    const { dir, log } = written(t, 20);
    assert.ok(files(dir).length > 1 && files(dir).length <= KEEP, files(dir).join());
    const verdict = log.verify({ generation: 20 });
    assert.equal(verdict.intact, true);
    assert.equal(verdict.intact && verdict.from, undefined);
  });

  it("a generation committed after the first kept record and missing is unaccounted; one before is not", (t) => {
    const { dir, log } = written(t, 600);
    const first = ordered(dir).flatMap((name) => recordsOf(join(dir, name)))[0] as AuditRecord;
    // The store is ahead of the log: generations 601 and 602 committed, never recorded.
    const verdict = log.verify({ generation: 602 });
    assert.equal(verdict.intact, false);
    assert.deepEqual(verdict.intact ? null : verdict.unaccounted, [601, 602]);
    // Generations 1 to first.generation were rotated out with their records: not unaccounted.
    assert.equal(log.verify({ generation: first.generation }).intact, true);
  });
});

describe("a tampered rotated file is detected", () => {
  const tampered = (dir: string, what: string, problem: RegExp) => {
    const verdict = new AuditLog(dir, { rotateBytes: ROTATE }).verify({ generation: 600 });
    assert.equal(verdict.intact, false, `${what}: verify() says intact`);
    assert.match(verdict.intact ? "" : verdict.problem, problem, what);
  };

  it("a field of a rotated record edited", (t) => {
    const { dir } = written(t, 600);
    const path = join(dir, "audit.log.2");
    const records = recordsOf(path);
    records[1] = { ...(records[1] as AuditRecord), principal: "web:pin" };
    writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    tampered(dir, "a record of audit.log.2 edited", /was altered/);
  });

  it("a rotated record removed, or a whole rotated file", (t) => {
    const { dir } = written(t, 600);
    const path = join(dir, "audit.log.1");
    const good = readFileSync(path, "utf8");
    writeFileSync(path, good.split("\n").slice(1).join("\n"));
    tampered(dir, "the first record of audit.log.1 removed", /sequence number/);
    writeFileSync(path, good);
    rmSync(join(dir, "audit.log.2"));
    tampered(dir, "audit.log.2 removed", /sequence number/);
  });

  it("the oldest kept file removed, so the log seems to start later", (t) => {
    const { dir } = written(t, 600);
    rmSync(join(dir, "audit.log.3"));
    tampered(dir, "audit.log.3 removed", /expected 1: the log's first records were removed/);
  });

  it("rotated files swapped", (t) => {
    const { dir } = written(t, 600);
    renameSync(join(dir, "audit.log.1"), join(dir, "swap"));
    renameSync(join(dir, "audit.log.2"), join(dir, "audit.log.1"));
    renameSync(join(dir, "swap"), join(dir, "audit.log.2"));
    tampered(dir, "audit.log.1 and .2 swapped", /sequence number/);
  });
});

describe("a crash between the renames of a rotation", () => {
  it("leaves a log that verifies, loses no record it kept, and carries on", (t) => {
    const { dir } = written(t, 600);
    // The next append rotates: the log is full.
    const full = new AuditLog(dir, { rotateBytes: statSync(join(dir, "audit.log")).size });
    const snapshot = `${dir}.snapshot`;
    cpSync(dir, snapshot, { recursive: true });
    t.after(() => rmSync(snapshot, { recursive: true, force: true }));
    const before = full.read();
    // The renames a rotation makes, in its order (docs/spec.md §9.6).
    const renames: [string, string][] = [];
    for (let n = KEEP - 1; n >= 0; n--)
      renames.push([n === 0 ? "audit.log" : `audit.log.${n}`, `audit.log.${n + 1}`]);
    for (let done = 0; done <= renames.length; done++) {
      rmSync(dir, { recursive: true });
      cpSync(snapshot, dir, { recursive: true });
      for (const [from, to] of renames.slice(0, done)) renameSync(join(dir, from), join(dir, to));
      const where = `killed after ${done} of ${renames.length} renames`;
      const log = new AuditLog(dir, { rotateBytes: ROTATE });
      const verdict = log.verify({ generation: 600 });
      assert.equal(verdict.intact, true, `${where}: ${verdict.intact ? "" : verdict.problem}`);
      // Only the oldest file's records may be gone, and only once it was renamed over.
      const kept = log.read().map((r) => r.seq);
      assert.equal(kept.at(-1), 600, where);
      const dropped = before.filter((r) => !kept.includes(r.seq)).map((r) => r.seq);
      assert.ok(
        dropped.every((seq) => seq < (kept[0] ?? 0)),
        `${where}: records lost from the middle`,
      );
      // The next append carries the chain on, in a fresh file; what it leaves verifies.
      const next = log.append(resetEntry(601));
      assert.equal(next.seq, 601, where);
      assert.equal(recordsOf(join(dir, "audit.log")).at(-1)?.seq, 601, where);
      assert.equal(log.verify({ generation: 601 }).intact, true, where);
      assert.ok(files(dir).length <= KEEP + 1, `${where}: ${files(dir).join()}`);
    }
  });
});

describe("the rotation size", () => {
  it("a rotation size that is not a positive whole number is a usage error, nothing written", async (t) => {
    const { dir } = tempDir(t);
    const store = join(dir, "store");
    for (const bad of ["0", "-5", "1.5", "1MiB", "abc"]) {
      const result = await reid(["--store", store, "init"], { env: { REID_AUDIT_ROTATE_BYTES: bad } });
      assertOneLineError(result, 2, /REID_AUDIT_ROTATE_BYTES must be a positive whole number/);
      assert.deepEqual(readdirSync(dir), [], `REID_AUDIT_ROTATE_BYTES=${bad} left something behind`);
    }
  });
});
