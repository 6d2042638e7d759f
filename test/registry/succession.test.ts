// A reset of an enrolled element as the registry sees it (docs/spec.md §10.9), with the built CLI
// on both sides: a succession moves the device to its new handle with the chain intact and a
// certificate openssl verifies (the old one revoked on the CRL); an unlinkable reset and an erase
// retire the old identity and leave nothing in the database that names the new one; a registry
// out of reach leaves the succession pending until the next delivery.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { reid, reidJson, reidOk } from "../helpers/cli.js";
import { startServe, stopCleanly } from "../helpers/daemon.js";
import {
  enrolledElement,
  registryForSuite,
  registryTables,
  servedCrl,
  serveRegistry,
  showDevice,
  verifiesAtRegistry,
} from "../helpers/registry.js";

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

  const enrolled = (name: string, alg?: string) => enrolledElement(fixture, name, alg);

  const show = (handle: string) => showDevice(fixture, handle);

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
      const list = await servedCrl(fixture);
      assert.ok(verifiesAtRegistry(fixture, now.certificate, list), "the new certificate does not verify");
      assert.ok(verifiesAtRegistry(fixture, before.certificate), "the old certificate no longer chains");
      assert.ok(
        !verifiesAtRegistry(fixture, before.certificate, list),
        "the CRL does not revoke the old certificate",
      );
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
    const rows = registryTables(fixture.dir);
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
