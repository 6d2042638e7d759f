// Crashes at the worst moments of a succession (docs/spec.md §10.9): an enrolled element's reset
// SIGKILLed anywhere between drawing the new identifier and delivering its statement, and the
// registry SIGKILLed in the middle of a storm of successions. Afterwards the element's enrollment
// names its identity, the registry's chain ends at it, every certificate an element was given is
// in the database, and no device is half-succeeded (superseded without its successor, or a
// successor whose predecessor is still active).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { REID, reidJson, reidOk } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { enrolledElement, registryForSuite, serveRegistry } from "../helpers/registry.js";

interface Enrollment {
  readonly handle: string;
  readonly serial: string;
}

interface DeviceRow {
  readonly handle: string;
  readonly status: string;
  readonly predecessor: string | null;
  readonly successor: string | null;
  readonly certificate_serial: string;
}

describe("succession under SIGKILL", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const enrollment = (name: string): Enrollment =>
    JSON.parse(readFileSync(join(store(name), "enrollment.json"), "utf8"));

  const enrolled = (name: string, alg?: string) => enrolledElement(fixture, name, alg);

  /** `reid reset` killed after `ms` if it has not ended by then: whether it was killed. */
  async function resetKilledAfter(name: string, ms: number): Promise<boolean> {
    const child = spawn(process.execPath, [REID, ...at(name, ["reset"])], {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    const end = await finished(child);
    clearTimeout(timer);
    if (end.signal === "SIGKILL") return true;
    // Not killed: it either finished or was refused as a whole (never half-done).
    assert.ok(end.code === 0, `reid reset exited ${end.code}: ${end.stderr}`);
    return false;
  }

  function devices(): Map<string, DeviceRow> {
    const db = new Database(join(fixture.dir, "registry.db"), { readonly: true });
    try {
      const rows = db.prepare("select * from devices").all() as DeviceRow[];
      return new Map(rows.map((row) => [row.handle, row]));
    } finally {
      db.close();
    }
  }

  /** No device half-succeeded, and the chain from `first` ends, active, at the element's handle. */
  function assertChain(first: string, name: string): string[] {
    const rows = devices();
    for (const row of rows.values()) {
      if (row.status === "superseded") {
        const next = row.successor ? rows.get(row.successor) : undefined;
        assert.equal(next?.predecessor, row.handle, `${row.handle} superseded without its successor`);
      }
      if (row.predecessor !== null) {
        assert.equal(
          rows.get(row.predecessor)?.successor,
          row.handle,
          `${row.handle}'s predecessor not linked`,
        );
      }
    }
    const chain = [first];
    for (let link = rows.get(first); link?.successor; link = rows.get(link.successor))
      chain.push(link.successor);
    const last = rows.get(chain[chain.length - 1] as string);
    const current = enrollment(name);
    assert.equal(last?.handle, current.handle, `the chain of ${name} does not end at its identity`);
    assert.equal(last?.status, "active");
    // The certificate the element was given is the one the registry holds as current.
    assert.equal(last?.certificate_serial, current.serial);
    return chain;
  }

  test("resets SIGKILLed at random moments: the outbox and the registry end in step with the element", async () => {
    const first = await enrolled("killed");
    // Kills aimed at the second half of a reset's life on this machine now, where it draws, signs,
    // writes the outbox, commits and delivers (its first half is Node starting).
    const started = Date.now();
    for (let i = 0; i < 3; i++) await reidOk(at("killed", ["reset"]));
    const whole = (Date.now() - started) / 3;
    let kills = 0;
    for (let round = 0; round < 30; round++) {
      if (await resetKilledAfter("killed", randomInt(Math.floor(whole * 0.4), Math.ceil(whole * 1.05))))
        kills++;
    }
    assert.ok(kills >= 10, `only ${kills} of 30 resets were killed before they ended`);
    // One reset that is let finish delivers what is pending, then its own.
    await reidOk(at("killed", ["reset"]));
    const status = await reidJson<{ handle: string; enrollment: { state: string } }>(
      at("killed", ["status"]),
    );
    assert.equal(status.enrollment.state, "current");
    assert.equal(enrollment("killed").handle, status.handle);
    assert.deepEqual(await reidJson(at("killed", ["enroll", "--status"])), { deliveries: [] });
    const chain = assertChain(first, "killed");
    assert.ok(chain.length >= 2);
  });

  test("the registry SIGKILLed during a storm of successions loses nothing an element was given", async () => {
    const names = ["storm-a", "storm-b", "storm-c"];
    const firsts = await Promise.all(names.map((name) => enrolled(name)));
    const port = fixture.served.port;
    let stop = false;
    const storms = names.map(async (name) => {
      while (!stop) await reidOk(at(name, ["reset"]));
    });
    await new Promise((resolve) => setTimeout(resolve, randomInt(300, 1500)));
    const gone = await fixture.served.kill();
    assert.equal(gone.signal, "SIGKILL");
    // Resets go on while it is down: their successions wait in the outbox.
    await new Promise((resolve) => setTimeout(resolve, 500));
    fixture.served = await serveRegistry(fixture.dir, ["--listen", `127.0.0.1:${port}`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await Promise.all(storms);
    for (const name of names) await reidOk(at(name, ["reset"]));
    names.forEach((name, i) => {
      const chain = assertChain(firsts[i] as string, name);
      assert.ok(chain.length >= 3, `${name}'s chain has ${chain.length} links`);
    });
    for (const name of names) {
      assert.deepEqual(await reidJson(at(name, ["enroll", "--status"])), { deliveries: [] });
    }
  });
});
