// The CRL's parts (docs/spec.md §10.7): the store's reasons as RFC 5280 codes, and the served CRL
// signed again only when the registry changed, on a real registry's CA and database.
import "reflect-metadata";
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import * as x509 from "@peculiar/x509";
import { CrlCache, reasonCode } from "../../src/registry/crl.js";
import { loadSigner } from "../../src/registry/issue.js";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import { makeRegistry } from "../helpers/registry.js";
import { newEnrollment } from "./storage-conformance.js";

test("reasons map to RFC 5280's codes by name, with or without '-'; others are unspecified", () => {
  const R = x509.X509CrlReason;
  const cases: [string | null, x509.X509CrlReason][] = [
    ["key-compromise", R.keyCompromise],
    ["keyCompromise", R.keyCompromise],
    ["superseded", R.superseded],
    ["cessation-of-operation", R.cessationOfOperation],
    ["ca-compromise", R.cACompromise],
    ["privilege-withdrawn", R.privilegeWithdrawn],
    ["retired", R.unspecified],
    ["certificate-hold", R.unspecified],
    ["remove-from-crl", R.unspecified],
    [null, R.unspecified],
  ];
  for (const [reason, code] of cases) assert.equal(reasonCode(reason), code, String(reason));
});

test("the served CRL is signed again only when the registry changes, and lists what was revoked", async (t) => {
  const { dir, remove } = await makeRegistry();
  t.after(remove);
  const store = await openSqliteRegistry(join(dir, "registry.db"));
  t.after(() => store.close());
  const signer = await loadSigner(dir);
  const cache = new CrlCache(signer, store);
  const now = new Date();
  const first = await cache.der(now);
  assert.equal(await cache.der(new Date(now.getTime() + 1000)), first, "a second fetch signed again");
  const enrollment = newEnrollment({ at: now.toISOString() });
  const late = new Date(now.getTime() + 86_400_000 * 2).toISOString();
  await store.enroll({ ...enrollment, certificate: { ...enrollment.certificate, notAfter: late } });
  await store.revoke({ handle: enrollment.handle, reason: "key-compromise", at: now.toISOString() });
  const second = await cache.der(new Date(now.getTime() + 2000));
  assert.notEqual(second, first);
  const crl = new x509.X509Crl(second);
  assert.ok(await crl.verify({ publicKey: signer.certificate.publicKey }));
  assert.deepEqual(
    crl.entries.map((e) => [e.serialNumber.toLowerCase().replace(/^0+/, ""), e.reason]),
    [[enrollment.certificate.serial, x509.X509CrlReason.keyCompromise]],
  );
  // Half a day on, the same registry gets a CRL made afresh: one never goes stale while served.
  assert.notEqual(await cache.der(new Date(now.getTime() + 13 * 3_600_000)), second);
});
