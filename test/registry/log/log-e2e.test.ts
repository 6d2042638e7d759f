// The identity log end to end (docs/spec.md §10.12), with the built CLI on both sides and a real
// `reid registry serve`: elements enrolled with --verify hold their enrollment, a renewal and a
// reset's succession to the log; `registry audit` of the real log replays exactly the registry's
// devices table; and the registry's database edited behind its back is caught.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { reid, reidJson, reidOk } from "../../helpers/cli.js";
import { curl, enrolledElement, registryForSuite, serveRegistry } from "../../helpers/registry.js";

interface Record {
  readonly handle: string;
  readonly serial: string;
  readonly log?: { readonly key: string; readonly checkpoint: string };
}

const sizeOf = (record: Record) => Number(record.log?.checkpoint.split("\n")[1]);

describe("the identity log end to end", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const record = (name: string): Record =>
    JSON.parse(readFileSync(join(store(name), "enrollment.json"), "utf8"));
  const audit = (state: string, ...more: string[]) =>
    reid([
      "registry",
      "audit",
      fixture.served.base,
      "--ca-fingerprint",
      fixture.pin,
      "--state",
      state,
      ...more,
    ]);
  let state = "";

  test("enroll --verify, renew and a reset's succession each verified; status shows the size", async () => {
    const handle = await enrolledElement(fixture, "verified", "ed25519", { enroll: ["--verify"] });
    const enrolled = record("verified");
    assert.equal(enrolled.handle, handle);
    // The key asked for over the pinned TLS is the one registry init printed.
    assert.equal(enrolled.log?.key, fixture.logKey);
    assert.ok(sizeOf(enrolled) >= 1);
    const status = await reidJson<{ enrollment: { logSize: number } }>(at("verified", ["status"]));
    assert.equal(status.enrollment.logSize, sizeOf(enrolled));
    assert.match((await reidOk(at("verified", ["status"]))).stdout, /log verified to size \d+/);

    const renewal = await reidJson<{ serial: string; logSize: number }>(at("verified", ["renew"]));
    const renewed = record("verified");
    assert.equal(renewed.serial, renewal.serial);
    assert.equal(renewal.logSize, sizeOf(renewed));
    assert.ok(sizeOf(renewed) > sizeOf(enrolled));
    assert.equal(renewed.log?.key, enrolled.log?.key);

    const reset = await reidJson<{ handle: string }>(at("verified", ["reset"]));
    const succeeded = record("verified");
    assert.equal(succeeded.handle, reset.handle);
    assert.ok(sizeOf(succeeded) > sizeOf(renewed));
    assert.equal(succeeded.log?.key, enrolled.log?.key);
    assert.deepEqual(await reidJson(at("verified", ["enroll", "--status"])), { deliveries: [] });
  });

  test("registry audit replays the real log into the registry's devices table", async () => {
    // Devices of every status: one revoked, one superseded (the reset above), the rest active.
    const revoked = await enrolledElement(fixture, "revoked");
    await reidOk(["registry", "revoke", revoked, "--reason", "keyCompromise", "--dir", fixture.dir]);
    await enrolledElement(fixture, "plain");
    state = join(mkdtempSync(join(fixture.root, "audit-")), "state");
    const audited = await audit(state, "--json");
    assert.equal(audited.code, 0, audited.stderr);
    const devices = (await reidOk(["--json", "registry", "devices", "--dir", fixture.dir])).stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const kept = JSON.parse(readFileSync(join(state, "audit.json"), "utf8"));
    assert.deepEqual(kept.devices, devices);
    const summary = JSON.parse(audited.stdout);
    assert.deepEqual(summary.devices, {
      listed: 0,
      active: devices.filter((device) => device.status === "active").length,
      superseded: 1,
      revoked: 1,
    });
    const events = (await reidOk(["--json", "registry", "events", "--dir", fixture.dir])).stdout
      .trim()
      .split("\n");
    assert.equal(summary.size, events.length);
  });

  test("the database edited behind the registry's back: an event alone stops serve; a history rewritten whole is a fork to the auditor and the element", async () => {
    assert.ok(state, "the audit above kept its state");
    const kept = readFileSync(join(state, "audit.json"));
    const element = readFileSync(join(store("verified"), "enrollment.json"));
    // Restarted on its port: the element reaches it where it enrolled.
    const { port } = fixture.served;
    const listen = ["--listen", `127.0.0.1:${port}`];
    await fixture.served.stop();
    const edit = (sql: (db: Database.Database) => void) => {
      const db = new Database(join(fixture.dir, "registry.db"));
      try {
        sql(db);
      } finally {
        db.close();
      }
    };
    // One event's data changed: the registry hashes its events again while it serves, and stops.
    edit((db) => {
      const first = db.prepare("select sequence, data from events order by sequence limit 1").get() as {
        sequence: number;
        data: string;
      };
      const data = { ...JSON.parse(first.data), serial: "41".repeat(16) };
      db.prepare("update events set data = ? where sequence = ?").run(JSON.stringify(data), first.sequence);
    });
    const stopped = await serveRegistry(fixture.dir, listen);
    const end = await stopped.exited;
    assert.equal(end.code, 6, end.stderr.toString());
    assert.match(end.stderr.toString(), /^reid: .*event/m);
    // The log dropped too, so that the registry signs the rewritten history afresh with its own key:
    // every checkpoint it signs now opens, and only what was kept before tells the fork.
    edit((db) => {
      db.prepare("delete from log_hashes").run();
      db.prepare("delete from log_checkpoints").run();
    });
    fixture.served = await serveRegistry(fixture.dir, listen);
    // Once it has signed the whole rewritten history again (it integrates within a second).
    const size = Number(JSON.parse(kept.toString("utf8")).checkpoint.split("\n")[1]);
    const ca = join(fixture.dir, "ca.pem");
    for (let tries = 0; tries < 40; tries++) {
      const note = await curl(fixture.root, `${fixture.served.base}/v1/log/checkpoint`, { ca });
      if (note.status === 200 && Number(note.body.toString("utf8").split("\n")[1]) >= size) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const caught = await audit(state);
    assert.equal(caught.code, 4, caught.stderr);
    assert.match(
      caught.stderr,
      /^reid: the log of \d+ is signed with another root than the one seen before: a fork\n$/,
    );
    assert.deepEqual(readFileSync(join(state, "audit.json")), kept);
    const renewal = await reid(at("verified", ["renew"]));
    assert.equal(renewal.code, 4, renewal.stderr);
    assert.match(
      renewal.stderr,
      /^reid: the log of \d+ (does not extend the log of \d+|is signed with another root than the one) seen before/,
    );
    assert.deepEqual(readFileSync(join(store("verified"), "enrollment.json")), element);
  });
});
