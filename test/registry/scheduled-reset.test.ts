// Scheduled resets of an enrolled element, carried out by the daemon at their time (docs/spec.md
// §2.6, §10.9): `reset --unlinkable --at` retires the old identity at the registry and leaves no
// row there that names the new one, and a schedule written before entries could be unlinkable is
// still read, its reset a succession.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import { ReidError } from "../../src/errors.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { startServe, stopCleanly } from "../helpers/daemon.js";
import {
  enrolledElement,
  registryForSuite,
  registryTables,
  servedCrl,
  showDevice,
  verifiesAtRegistry,
} from "../helpers/registry.js";

interface Scheduled {
  readonly id: string;
  readonly type: string;
  readonly at: string;
  readonly unlinkable?: boolean;
}

describe("scheduled resets of an enrolled element", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const show = (handle: string) => showDevice(fixture, handle);
  const statusOf = (name: string) =>
    reidJson<{ handle: string; scheduled: Scheduled[]; enrollment: unknown }>(at(name, ["status"]));

  /** Polls until `done` holds (the daemon works at its own pace); fails after 30 s. */
  async function until(what: string, done: () => Promise<boolean> | boolean): Promise<void> {
    for (let waited = 0; !(await done()); waited += 100) {
      assert.ok(waited < 30_000, `the daemon did not carry it out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  test("reset --unlinkable --at, run by the daemon, retires the old identity and links nothing to the new", async () => {
    const old = await enrolledElement(fixture, "unlinked");
    const certificate = JSON.parse(
      readFileSync(join(store("unlinked"), "enrollment.json"), "utf8"),
    ).certificate;
    const daemon = await startServe(store("unlinked"));
    try {
      const when = new Date(Date.now() + 2000).toISOString();
      const scheduled = await reidJson<{ scheduled: Scheduled }>(
        at("unlinked", ["reset", "--unlinkable", "--at", when]),
      );
      assert.equal(scheduled.scheduled.type, "reset");
      assert.equal(scheduled.scheduled.unlinkable, true);
      const listed = (await reidOk(at("unlinked", ["schedule", "list"]))).stdout;
      assert.equal(listed, `${scheduled.scheduled.id}  ${scheduled.scheduled.at}  reset --unlinkable\n`);
      assert.deepEqual((await statusOf("unlinked")).scheduled, [
        { id: scheduled.scheduled.id, type: "reset", at: scheduled.scheduled.at, unlinkable: true },
      ]);
      await until("the retirement", async () => (await statusOf("unlinked")).enrollment === null);
    } finally {
      await stopCleanly(daemon);
    }
    const { handle, scheduled } = await statusOf("unlinked");
    assert.notEqual(handle, old, "the reset did not run");
    assert.deepEqual(scheduled, []);
    const shown = await show(old);
    assert.equal(shown.device.status, "revoked");
    assert.equal(shown.certificate.revocationReason, "cessationOfOperation");
    assert.deepEqual(
      shown.chain.map((link) => link.handle),
      [old],
    );
    const rows = registryTables(fixture.dir);
    assert.ok(rows.includes(old), "the check below looks where handles are kept");
    assert.ok(!rows.includes(handle), `the registry's tables name the new identity ${handle}`);
    const keys = await reidJson<{ ed25519: string; p256: string }>(at("unlinked", ["keys"]));
    for (const key of [keys.ed25519, keys.p256]) {
      const bytes = Buffer.from(key, "hex");
      assert.ok(!rows.includes(key) && !rows.includes(bytes.toString("base64url").slice(0, 40)));
    }
    const crl = await servedCrl(fixture);
    assert.ok(verifiesAtRegistry(fixture, certificate), "the old certificate no longer chains");
    assert.ok(!verifiesAtRegistry(fixture, certificate, crl), "the CRL does not revoke the old certificate");
    // The audit log says what ran, and on whose authority.
    const log = await reidJson<{ records: { request: string; principal: string; detail?: object }[] }>(
      at("unlinked", ["log"]),
    );
    const ran = log.records.filter((record) => record.request === "reset");
    assert.equal(ran.at(-1)?.principal, "scheduler:cli");
    assert.ok(
      log.records.some(
        (record) =>
          record.request === "schedule-reset" && JSON.stringify(record.detail).includes('"unlinkable":true'),
      ),
    );
  });

  test("a schedule of an earlier reid (no unlinkable member) is read and its reset is a succession", async () => {
    const old = await enrolledElement(fixture, "earlier");
    const due = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(
      join(store("earlier"), "schedule.json"),
      JSON.stringify([{ id: "0a0b0c0d", type: "reset", at: due, principal: "cli", created: due }]),
      { mode: 0o600 },
    );
    assert.deepEqual((await statusOf("earlier")).scheduled, [{ id: "0a0b0c0d", type: "reset", at: due }]);
    const daemon = await startServe(store("earlier"));
    try {
      await until("the succession", async () => {
        const status = await statusOf("earlier");
        return status.handle !== old && (status.enrollment as { state?: string } | null)?.state === "current";
      });
    } finally {
      await stopCleanly(daemon);
    }
    const { handle } = await statusOf("earlier");
    assert.deepEqual(
      (await show(handle)).chain.map((link) => [link.handle, link.status]),
      [
        [old, "superseded"],
        [handle, "active"],
      ],
    );
  });

  test("only a reset is unlinkable, scheduled or not", async () => {
    await reidOk(at("others", ["init"]));
    const when = new Date(Date.now() + 3_600_000).toISOString();
    assertOneLineError(await reid(at("others", ["erase", "--unlinkable", "--at", when])), 2);
    assertOneLineError(await reid(at("others", ["init", "--unlinkable", "--at", when])), 2);
    // The daemon's API takes the flag with any type; the element refuses it on all but a reset.
    const daemon = await startServe(store("others"));
    const remote = new RemoteElement(daemon.socket);
    try {
      for (const type of ["init", "erase"] as const) {
        await assert.rejects(remote.schedule(type, undefined, when, true), (error: unknown) => {
          assert.ok(error instanceof ReidError);
          assert.equal(error.exitCode, 2);
          assert.match(error.message, /only a reset can be unlinkable/);
          return true;
        });
      }
    } finally {
      await remote.close();
      await stopCleanly(daemon);
    }
    assert.ok(!existsSync(join(store("others"), "schedule.json")), "a refused --at left a schedule");
  });
});
