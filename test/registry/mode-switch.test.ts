// The mode switch of an enrolled element as the registry sees it (docs/spec.md §2.4, §10.9): from
// factory to random mode the owner takes an identity of his own, and with continuity on the fleet
// follows it as a succession; `--unlinkable` or continuity off retire the factory identity and
// leave no row naming the random one. The way back to factory mode always retires.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  enrolledElement,
  newToken,
  registryForSuite,
  registryTables,
  servedCrl,
  showDevice,
  verifiesAtRegistry,
} from "../helpers/registry.js";

describe("the mode switch of an enrolled element", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const certificateOf = (name: string): string =>
    JSON.parse(readFileSync(join(store(name), "enrollment.json"), "utf8")).certificate;
  const enrollmentOf = async (name: string) =>
    (await reidJson<{ enrollment: { handle: string; state: string } | null }>(at(name, ["status"])))
      .enrollment;
  const chainOf = async (handle: string) =>
    (await showDevice(fixture, handle)).chain.map((link) => [link.handle, link.status]);
  const factoryElement = (name: string) =>
    enrolledElement(fixture, name, "ed25519", { init: ["--factory", "puf-sim"] });

  test("factory -> random is a succession: the chain goes from the factory identity to the owner's", async () => {
    const factory = await factoryElement("owned");
    const before = certificateOf("owned");
    const random = await reidJson<{ request: string; mode: string; handle: string }>(
      at("owned", ["mode", "random"]),
    );
    assert.equal(random.request, "mode-random");
    assert.equal(random.mode, "random");
    const enrollment = await enrollmentOf("owned");
    assert.equal(enrollment?.handle, random.handle);
    assert.equal(enrollment?.state, "current");
    assert.deepEqual(await chainOf(random.handle), [
      [factory, "superseded"],
      [random.handle, "active"],
    ]);
    const crl = await servedCrl(fixture);
    assert.ok(
      verifiesAtRegistry(fixture, certificateOf("owned"), crl),
      "the new certificate does not verify",
    );
    assert.ok(!verifiesAtRegistry(fixture, before, crl), "the CRL does not revoke the factory identity's");
    assert.deepEqual(await reidJson(at("owned", ["enroll", "--status"])), { deliveries: [] });

    // And back: factory mode restores a handle the registry knows, superseded; it is no successor
    // of the random identity, which is retired.
    await reidOk(at("owned", ["mode", "factory"]));
    assert.equal(await enrollmentOf("owned"), null);
    assert.deepEqual(await chainOf(random.handle), [
      [factory, "superseded"],
      [random.handle, "revoked"],
    ]);
  });

  test("factory -> random --unlinkable, or with continuity off, retires the factory identity and names nothing new", async () => {
    const unlinked = await factoryElement("unlinked");
    const noContinuity = await factoryElement("no-continuity");
    await reidOk(at("no-continuity", ["config", "registry-continuity", "off"]));
    const [a, b] = await Promise.all([
      reidJson<{ handle: string }>(at("unlinked", ["mode", "random", "--unlinkable"])),
      reidJson<{ handle: string }>(at("no-continuity", ["mode", "random"])),
    ]);
    const rows = registryTables(fixture.dir);
    for (const [name, old, next] of [
      ["unlinked", unlinked, a.handle],
      ["no-continuity", noContinuity, b.handle],
    ] as const) {
      assert.deepEqual(await chainOf(old), [[old, "revoked"]]);
      assert.ok(rows.includes(old), "the check below looks where handles are kept");
      assert.ok(!rows.includes(next), `the registry's tables name the new identity ${next}`);
      const keys = await reidJson<{ ed25519: string }>(at(name, ["keys"]));
      assert.ok(!rows.includes(keys.ed25519));
      assert.ok(!rows.includes(Buffer.from(keys.ed25519, "hex").toString("base64url").slice(0, 40)));
      assert.equal(await enrollmentOf(name), null);
    }
  });

  test("random -> factory retires the random identity and links the factory one to nothing", async () => {
    await reidOk(at("restored", ["init", "--factory", "puf-sim"]));
    const factory = (await reidJson<{ handle: string }>(at("restored", ["status"]))).handle;
    await reidOk(at("restored", ["mode", "random"]));
    // Enrolled in random mode: the factory identity never was.
    const token = join(fixture.root, "restored.token");
    writeFileSync(token, `${await newToken(fixture.dir)}\n`, { mode: 0o600 });
    await reidOk(
      at("restored", ["enroll", fixture.served.base, "--ca-fingerprint", fixture.pin, "--token-file", token]),
    );
    const random = (await reidJson<{ handle: string }>(at("restored", ["status"]))).handle;
    assertOneLineError(
      await reid(at("restored", ["mode", "factory", "--unlinkable"])),
      2,
      /only a switch to random mode/,
    );
    const back = await reidJson<{ handle: string }>(at("restored", ["mode", "factory"]));
    assert.equal(back.handle, factory);
    assert.deepEqual(await chainOf(random), [[random, "revoked"]]);
    assert.ok(
      !registryTables(fixture.dir).includes(factory),
      "the registry's tables name the factory identity",
    );
    assert.equal(await enrollmentOf("restored"), null);
  });
});
