// `reid renew` against a real registry on loopback (docs/spec.md §10.8): the same derived key
// re-enrolled over EST's simplereenroll with the current certificate as TLS client certificate.
// The new certificate replaces the old in the store and openssl's -crl_check then refuses the old
// one; a revoked or superseded certificate, another device's or an ended one renews nothing, and
// every refusal leaves the store and the registry's tables as they were.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { certificationRequest } from "../../src/derive/certificate.js";
import { deriveAll, wipe } from "../../src/derive/derivation.js";
import { spkiKey } from "../../src/derive/public-key.js";
import { privateKeyObject } from "../../src/derive/signature.js";
import type { Renewal } from "../../src/enrollment/api.js";
import type { EnrollmentRecord } from "../../src/enrollment/enrollment-record.js";
import { simpleReenroll } from "../../src/enrollment/est-client.js";
import { ReidError } from "../../src/errors.js";
import { issueDeviceCertificate, loadSigner } from "../../src/registry/issue.js";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import { storedIdentifier } from "../cli/store.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { startServe, stopCleanly } from "../helpers/daemon.js";
import {
  enrolledElement,
  openssl,
  registryForSuite,
  registryTables,
  servedCrl,
  serveRegistry,
  showDevice,
  verifiesAtRegistry,
} from "../helpers/registry.js";

describe("reid renew", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const at = (name: string, args: readonly string[]) => ["--store", store(name), ...args];
  const enrollmentFile = (name: string) => join(store(name), "enrollment.json");
  const enrollment = (name: string): EnrollmentRecord =>
    JSON.parse(readFileSync(enrollmentFile(name), "utf8"));
  const show = (handle: string) => showDevice(fixture, handle);
  const publicKeyOf = (pem: string) => openssl(["x509", "-noout", "-pubkey"], pem).out;

  /** A refusal: one line with its exit, and neither the store's enrollment nor the registry changed. */
  async function refusedUnchanged(name: string, exit: number, pattern: RegExp, env?: NodeJS.ProcessEnv) {
    const [file, tables] = [readFileSync(enrollmentFile(name), "utf8"), registryTables(fixture.dir)];
    assertOneLineError(await reid(at(name, ["renew"]), env ? { env } : {}), exit, pattern);
    assert.equal(
      readFileSync(enrollmentFile(name), "utf8"),
      file,
      "a refused renewal changed enrollment.json",
    );
    assert.equal(registryTables(fixture.dir), tables, "a refused renewal changed the registry");
  }

  for (const alg of ["ed25519", "p256"]) {
    test(`${alg}: the new certificate replaces the old for the same key; -crl_check then refuses the old and accepts the new`, async () => {
      const name = `renewed-${alg}`;
      const handle = await enrolledElement(fixture, name, alg);
      const before = enrollment(name);
      const renewal = await reidJson<Renewal>(at(name, ["renew"]));
      assert.equal(renewal.handle, handle);
      assert.equal(renewal.algorithm, alg);
      assert.equal(renewal.generation, 1);
      assert.equal(renewal.registry, fixture.served.base);
      assert.equal(renewal.previous, before.serial);
      assert.notEqual(renewal.serial, before.serial);

      const after = enrollment(name);
      assert.equal(after.serial, renewal.serial);
      assert.equal(after.notAfter, renewal.notAfter);
      assert.equal(after.renewedAt, renewal.renewedAt);
      assert.equal(after.enrolledAt, before.enrolledAt, "a renewal is not a new enrollment");
      assert.equal(after.caCertificate, before.caCertificate);
      assert.notEqual(after.certificate, before.certificate);
      assert.equal(publicKeyOf(after.certificate), publicKeyOf(before.certificate), "the key changed");
      assert.match(
        openssl(["x509", "-noout", "-subject"], after.certificate).out,
        new RegExp(`CN ?= ?${handle}`),
      );
      assert.equal(statSync(enrollmentFile(name)).mode & 0o777, 0o600);
      assert.equal((await reidOk(at(name, ["cert", "--issued"]))).stdout.trim(), after.certificate.trim());

      const device = await show(handle);
      assert.equal(device.device.status, "active");
      assert.equal(device.device.certificateSerial, renewal.serial);
      assert.equal(device.chain.length, 1, "a renewal is no succession");

      const crl = await servedCrl(fixture);
      assert.ok(verifiesAtRegistry(fixture, after.certificate, crl), "the new certificate does not verify");
      assert.ok(verifiesAtRegistry(fixture, before.certificate), "the old certificate no longer chains");
      assert.ok(!verifiesAtRegistry(fixture, before.certificate, crl), "the CRL does not revoke the old one");

      // Again, as text: the one renewed just now is the one replaced.
      const text = (await reidOk(at(name, ["renew"]))).stdout;
      const next = enrollment(name);
      assert.equal(
        text,
        [
          `renewed  ${fixture.served.base}`,
          `handle   ${handle} (generation 1, ${alg})`,
          `serial   ${next.serial} (was ${renewal.serial})`,
          `valid    ${next.notBefore} to ${next.notAfter}`,
          "",
        ].join("\n"),
      );
      const status = await reidJson<{ enrollment: { serial: string; state: string } }>(at(name, ["status"]));
      assert.deepEqual(status.enrollment.serial, next.serial);
      assert.equal(status.enrollment.state, "current");
    });
  }

  test("through the daemon that owns the store: the same renewal, and the same refusal", async () => {
    const handle = await enrolledElement(fixture, "served");
    const daemon = await startServe(store("served"));
    // A direct open would find the store held by the daemon and give up at once.
    const viaDaemon = { REID_LOCK_TIMEOUT: "0" };
    try {
      const before = enrollment("served");
      const renewal = await reidJson<Renewal>(at("served", ["renew"]), { env: viaDaemon });
      assert.equal(renewal.previous, before.serial);
      assert.equal(enrollment("served").serial, renewal.serial);
      assert.equal((await show(handle)).device.certificateSerial, renewal.serial);
      await reidOk(["registry", "revoke", handle, "--reason", "privilegeWithdrawn", "--dir", fixture.dir]);
      await refusedUnchanged(
        "served",
        3,
        /refused to renew: .* is no longer device .*'s current one/,
        viaDaemon,
      );
    } finally {
      await stopCleanly(daemon);
    }
    await refusedUnchanged("served", 3, /refused to renew: .* is no longer device .*'s current one/);
  });

  test("a revoked device and a superseded certificate renew nothing", async () => {
    const handle = await enrolledElement(fixture, "refused");
    const first = readFileSync(enrollmentFile("refused"), "utf8");
    await reidOk(at("refused", ["renew"]));
    const current = readFileSync(enrollmentFile("refused"), "utf8");
    // The element given back the certificate that renewal superseded.
    writeFileSync(enrollmentFile("refused"), first, { mode: 0o600 });
    await refusedUnchanged("refused", 3, /refused to renew: certificate [0-9a-f]+ is no longer/);
    writeFileSync(enrollmentFile("refused"), current, { mode: 0o600 });
    await reidOk(["registry", "revoke", handle, "--reason", "keyCompromise", "--dir", fixture.dir]);
    await refusedUnchanged("refused", 3, /refused to renew/);
    assert.equal((await show(handle)).device.status, "revoked");
  });

  test("before anything is sent: not enrolled, an enrollment of another identity; and a registry out of reach", async () => {
    await reidOk(at("never", ["init"]));
    assertOneLineError(await reid(at("never", ["renew"])), 3, /not enrolled/);
    assertOneLineError(
      await reid(at("nothing-at-all", ["renew"])),
      6,
      /no store at .*'reid init' creates it/,
    );
    assertOneLineError(await reid(at("never", ["renew", "--alg", "p256"])), 2);

    // Another device's enrollment copied into this store: its certificate names a handle the
    // element does not hold, so the element refuses before it offers the registry anything.
    const other = await enrolledElement(fixture, "other");
    await enrolledElement(fixture, "copied");
    writeFileSync(enrollmentFile("copied"), readFileSync(enrollmentFile("other")), { mode: 0o600 });
    await refusedUnchanged(
      "copied",
      3,
      new RegExp(`certifies ${other}, an identity this element no longer holds`),
    );

    // A reset while the registry is away: the succession waits, and the enrollment is the old identity's.
    await enrolledElement(fixture, "away");
    const port = fixture.served.port;
    await fixture.served.stop();
    try {
      await refusedUnchanged("away", 7, /cannot reach the registry/);
      await reidOk(at("away", ["reset"]));
      await refusedUnchanged("away", 3, /no longer holds: its succession to this identity waits/);
    } finally {
      fixture.served = await serveRegistry(fixture.dir, ["--listen", `127.0.0.1:${port}`]);
    }
  });

  test("the registry's side: another device's certificate renews no other handle, and an ended one renews nothing", async () => {
    const mine = await enrolledElement(fixture, "mine", "p256");
    await enrolledElement(fixture, "theirs", "p256");
    const origin = new URL(fixture.served.base);
    const ca = enrollment("mine").caCertificate;
    /** The derived P-256 key of an element's store as TLS takes it, and a CSR of it. */
    const material = async (name: string) => {
      const keys = deriveAll(storedIdentifier(store(name)) as Uint8Array);
      try {
        const key = Buffer.from(
          privateKeyObject(keys, "p256").export({ format: "pem", type: "pkcs8" }) as string,
        );
        const csr = new x509.Pkcs10CertificateRequest(
          await certificationRequest(keys, { algorithm: "p256" }),
        );
        return { key, csr: new Uint8Array(csr.rawData) };
      } finally {
        wipe(keys);
      }
    };
    const refusal = async (attempt: Promise<unknown>) => {
      const error = await attempt.then(
        () => assert.fail("the registry renewed"),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ReidError, String(error));
      return error;
    };
    const [me, them] = [await material("mine"), await material("theirs")];
    const tables = registryTables(fixture.dir);
    const client = { certificate: enrollment("mine").certificate, key: me.key };
    const mismatch = await refusal(simpleReenroll({ origin, ca, client }, them.csr));
    assert.equal(mismatch.code, "renewal-refused");
    assert.match(mismatch.message, /keeps the device's handle and key/);
    assert.equal(registryTables(fixture.dir), tables);

    // The device's current certificate as the registry holds it, ended yesterday.
    const registry = await openSqliteRegistry(join(fixture.dir, "registry.db"));
    let ended: string;
    try {
      const device = await registry.device(mine);
      assert.ok(device);
      const keyBits = spkiKey(device.publicKey)?.publicKey;
      assert.ok(keyBits);
      const certificate = issueDeviceCertificate(
        await loadSigner(fixture.dir),
        { handle: mine, publicKey: device.publicKey, keyBits },
        {
          crlUrl: `https://localhost:${fixture.served.port}/crl`,
          now: new Date(Date.now() - 91 * 86_400_000),
        },
      );
      await registry.renew({
        handle: mine,
        certificate,
        previous: device.certificateSerial ?? "",
        at: new Date().toISOString(),
      });
      ended = new x509.X509Certificate(certificate.der).toString("pem");
      writeFileSync(
        enrollmentFile("mine"),
        JSON.stringify({
          ...enrollment("mine"),
          serial: certificate.serial,
          notBefore: certificate.notBefore,
          notAfter: certificate.notAfter,
          certificate: ended,
        }),
        { mode: 0o600 },
      );
    } finally {
      await registry.close();
    }
    await refusedUnchanged("mine", 3, /ended at .*: only a current one renews/);
    const before = registryTables(fixture.dir);
    const expired = await refusal(
      simpleReenroll({ origin, ca, client: { certificate: ended, key: me.key } }, me.csr),
    );
    assert.equal(expired.code, "registry-refused");
    assert.match(expired.message, /not one this registry issued, or has ended/);
    assert.equal(registryTables(fixture.dir), before);
    me.key.fill(0);
    them.key.fill(0);
  });
});
