// A reset of an enrolled element as the registry sees it (docs/spec.md §10.9), with the built CLI
// on both sides: a succession moves the device to its new handle with the chain intact and a
// certificate openssl verifies (the old one revoked on the CRL); an unlinkable reset and an erase
// retire the old identity and leave nothing in the database that names the new one; a registry
// out of reach leaves the succession pending until the next delivery.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { reid, reidJson, reidOk } from "../helpers/cli.js";
import { startServe, stopCleanly } from "../helpers/daemon.js";
import { curl, enrolledElement, registryForSuite, serveRegistry } from "../helpers/registry.js";

interface Enrollment {
  readonly handle: string;
  readonly serial: string;
  readonly certificate: string;
}

describe("succession and retirement across a reset", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const _handleOf = async (name: string) => (await reidJson<{ handle: string }>(at(name, ["status"]))).handle;
  const enrollment = (name: string): Enrollment =>
    JSON.parse(readFileSync(join(store(name), "enrollment.json"), "utf8"));
  const openssl = (args: readonly string[]) => spawnSync("openssl", args, { encoding: "utf8" });

  const enrolled = (name: string, alg?: string) => enrolledElement(fixture, name, alg);

  const show = (handle: string) =>
    reidJson<{ device: { status: string }; chain: { handle: string; status: string }[] }>([
      "registry",
      "show",
      handle,
      "--dir",
      fixture.dir,
    ]);

  /** Every row of every table, as text: what must not name an unlinkable reset's new identity. */
  function tables(): string {
    const db = new Database(join(fixture.dir, "registry.db"), { readonly: true });
    try {
      const names = db.prepare("select name from sqlite_master where type = 'table'").all() as {
        name: string;
      }[];
      return names
        .map(({ name }) =>
          JSON.stringify(db.prepare(`select * from "${name}"`).all(), (_key, value) =>
            Buffer.isBuffer(value) ? value.toString("hex") + value.toString("base64") : value,
          ),
        )
        .join("\n");
    } finally {
      db.close();
    }
  }

  async function crl(): Promise<string> {
    const answer = await curl(fixture.root, `${fixture.served.base}/crl`, {
      ca: join(fixture.dir, "ca.pem"),
    });
    const path = join(fixture.root, `crl-${Date.now()}.der`);
    writeFileSync(path, answer.body);
    return path;
  }

  function verifies(pem: string, crlFile?: string): boolean {
    const path = join(fixture.root, `cert-${Math.random().toString(36).slice(2)}.pem`);
    writeFileSync(path, pem);
    const check = crlFile ? ["-crl_check", "-CRLfile", crlFile] : [];
    const pemCrl = crlFile
      ? openssl(["crl", "-inform", "DER", "-in", crlFile, "-out", `${crlFile}.pem`])
      : null;
    if (pemCrl) check[2] = `${crlFile}.pem`;
    return openssl(["verify", "-CAfile", join(fixture.dir, "ca.pem"), ...check, path]).status === 0;
  }

  for (const alg of ["ed25519", "p256"]) {
    test(`${alg}: a reset is a succession: the chain goes old -> new, the new certificate verifies, the old is on the CRL`, async () => {
      const name = `linked-${alg}`;
      const old = await enrolled(name, alg);
      const before = enrollment(name);
      const reset = await reidJson<{ handle: string }>(at(name, ["reset"]));
      const now = enrollment(name);
      assert.equal(now.handle, reset.handle);
      assert.notEqual(now.serial, before.serial);
      const shown = await show(reset.handle);
      assert.equal(shown.device.status, "active");
      assert.deepEqual(
        shown.chain.map((link) => [link.handle, link.status]),
        [
          [old, "superseded"],
          [reset.handle, "active"],
        ],
      );
      const list = await crl();
      assert.ok(verifies(now.certificate, list), "the new certificate does not verify");
      assert.ok(verifies(before.certificate), "the old certificate no longer chains");
      assert.ok(!verifies(before.certificate, list), "the CRL does not revoke the old certificate");
      const status = await reidJson<{ enrollment: { state: string } }>(at(name, ["status"]));
      assert.equal(status.enrollment.state, "current");
      assert.deepEqual(await reidJson(at(name, ["enroll", "--status"])), { deliveries: [] });
    });
  }

  test("an unlinkable reset, continuity off, and an erase retire the old identity and leave no trace of the new", async () => {
    const unlinked = await enrolled("unlinked");
    const noContinuity = await enrolled("no-continuity");
    const erased = await enrolled("erased");
    await reidOk(at("no-continuity", ["config", "registry-continuity", "off"]));
    const [a, b] = await Promise.all([
      reidJson<{ handle: string }>(at("unlinked", ["reset", "--unlinkable"])),
      reidJson<{ handle: string }>(at("no-continuity", ["reset"])),
      reidOk(at("erased", ["erase"])),
    ]);
    const rows = tables();
    for (const [old, next] of [
      [unlinked, a.handle],
      [noContinuity, b.handle],
    ] as const) {
      const shown = await show(old);
      assert.equal(shown.device.status, "revoked");
      assert.equal(shown.chain.length, 1);
      assert.ok(!rows.includes(next), `the registry's tables name the new identity ${next}`);
    }
    assert.equal((await show(erased)).device.status, "revoked");
    for (const name of ["unlinked", "no-continuity", "erased"]) {
      // The retired enrollment is gone: nothing left to call stale.
      const status = await reidJson<{ enrollment: null }>(at(name, ["status"]));
      assert.equal(status.enrollment, null, name);
    }
    // The keys of the new identities are nowhere either.
    for (const name of ["unlinked", "no-continuity"]) {
      const keys = await reidJson<{ ed25519: string }>(at(name, ["keys"]));
      const raw = Buffer.from(keys.ed25519.replace(/-----[^-]+-----|\s/g, ""), "base64").subarray(-32);
      assert.ok(
        !rows.includes(raw.toString("hex")) && !rows.includes(raw.toString("base64url").slice(0, 40)),
      );
    }
    const refused = await reid(at("erased", ["config", "registry-continuity", "on"]));
    assert.equal(refused.code, 3);
  });

  test("with the registry out of reach successions stay pending and chain; the daemon's retries deliver them once it is back", async () => {
    const old = await enrolled("offline");
    const origin = fixture.served.base;
    const port = fixture.served.port;
    await fixture.served.stop();
    const first = await reidJson<{ handle: string }>(at("offline", ["reset"]));
    const status = await reidJson<{ enrollment: { state: string } }>(at("offline", ["status"]));
    assert.equal(status.enrollment.state, "succession-pending");
    // The outbox waits in the store, private to its owner like the rest of it.
    assert.equal(statSync(join(store("offline"), "registry-outbox.json")).mode & 0o777, 0o600);
    assert.match((await reidOk(at("offline", ["status"]))).stdout, /succession pending/);
    const second = await reidJson<{ handle: string }>(at("offline", ["reset"]));
    const pending = await reidJson<{ deliveries: { kind: string; state: string; handle: string }[] }>(
      at("offline", ["enroll", "--status"]),
    );
    assert.deepEqual(
      pending.deliveries.map((d) => [d.kind, d.state, d.handle]),
      [
        ["succession", "pending", first.handle],
        ["succession", "pending", second.handle],
      ],
    );

    const daemon = await startServe(store("offline"));
    try {
      // The daemon finds the registry out of reach too, and backs off; then it comes back on its port.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      fixture.served = await serveRegistry(fixture.dir, ["--listen", `127.0.0.1:${port}`]);
      assert.equal(fixture.served.base, origin);
      for (let waited = 0; enrollment("offline").handle !== second.handle; waited += 200) {
        assert.ok(waited < 30_000, "the daemon did not deliver the successions");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await stopCleanly(daemon);
    }
    assert.deepEqual(
      (await show(second.handle)).chain.map((link) => [link.handle, link.status]),
      [
        [old, "superseded"],
        [first.handle, "superseded"],
        [second.handle, "active"],
      ],
    );
    assert.deepEqual(await reidJson(at("offline", ["enroll", "--status"])), { deliveries: [] });
  });
});
