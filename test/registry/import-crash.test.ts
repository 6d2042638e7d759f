// A `reid registry import` killed with SIGKILL part-way leaves whole batches (docs/spec.md §10.6):
// the devices in the registry are the first batches of the list in handle order, each with its
// certificate and its event, and the same command run again imports exactly the rest.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { REID, reidJson } from "../helpers/cli.js";
import { writeDeviceList } from "../helpers/device-list.js";
import { makeRegistry } from "../helpers/registry.js";

const DEVICES = 20_000;
const BATCH = 500;

function count(db: Database.Database, table: string): number {
  return (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
}

test("an import SIGKILLed part-way leaves whole batches, and a run again imports the rest", async (t) => {
  const { root, dir, remove } = await makeRegistry();
  t.after(remove);
  const file = join(root, "fleet.ndjson");
  writeDeviceList(file, DEVICES, { p256Every: 7 });
  const handles = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { handle: string }).handle)
    .sort();

  const child = spawn(
    process.execPath,
    // --certify: the slower import, so that the kill comes part-way, and the batch with the most to lose.
    [REID, "registry", "import", "--dir", dir, file, "--batch", `${BATCH}`, "--certify"],
    {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
      stdio: "ignore",
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  t.after(() => child.kill("SIGKILL"));
  // Read beside the writer (WAL): the kill comes as soon as the first batch is in.
  const db = new Database(join(dir, "registry.db"), { readonly: true });
  t.after(() => db.close());
  const deadline = Date.now() + 60_000;
  while (count(db, "devices") === 0 && child.exitCode === null) {
    assert.ok(Date.now() < deadline, "no batch came in a minute");
    await sleep(2);
  }
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", "the import ended before it was killed");

  const present = (
    db.prepare("select handle from devices order by handle").all() as { handle: string }[]
  ).map((row) => row.handle);
  assert.ok(present.length > 0 && present.length < DEVICES, `${present.length} devices after the kill`);
  assert.equal(present.length % BATCH, 0, `${present.length} devices: not whole batches of ${BATCH}`);
  assert.deepEqual(present, handles.slice(0, present.length), "not the first batches in handle order");
  assert.equal(count(db, "certificates"), present.length);
  assert.equal(count(db, "events"), present.length);
  const orphans = db
    .prepare(
      "select count(*) as n from devices d where not exists (select 1 from certificates c where c.serial = d.certificate_serial and c.status = 'valid') or not exists (select 1 from events e where e.handle = d.handle and e.type = 'enrolled')",
    )
    .get() as { n: number };
  assert.equal(orphans.n, 0, "a device without its certificate or its event");

  const again = await reidJson<{ imported: number; skipped: number }>(
    ["registry", "import", "--dir", dir, file, "--certify"],
    {
      timeoutMs: 120_000,
    },
  );
  assert.deepEqual([again.imported, again.skipped], [DEVICES - present.length, present.length]);
  assert.equal(count(db, "devices"), DEVICES);
  assert.equal(count(db, "events"), DEVICES);
});
