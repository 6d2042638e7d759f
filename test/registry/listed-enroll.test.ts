// A device an import listed (docs/spec.md §10.6) enrolls over real EST/HTTPS with no token: curl
// and openssl as the client, `reid registry import` and `serve` as the built CLI. Its CSR signed by
// exactly the listed key certifies it, once; another key, an unlisted handle, a second enrollment
// and a device revoked while listed are each refused, and leave the registry as it was.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { hashToken } from "../../src/registry/tokens.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type Answer,
  csrBase64,
  curl,
  ed25519Handle,
  makeRegistry,
  newKey,
  newToken,
  openssl,
  pkcs7Certificates,
  registryForSuite,
  type ServedRegistry,
  serveRegistry,
  unchangedBy as unchanged,
} from "../helpers/registry.js";
import { secretFile } from "../helpers/temp.js";

const ENROLL = "/.well-known/est/simpleenroll";
const PKCS10 = ["-H", "Content-Type: application/pkcs10"];

/** A key's SubjectPublicKeyInfo DER in base64, as a device list names it (openssl's own DER). */
function spkiBase64(keyPath: string): string {
  const der = spawnSync("openssl", ["pkey", "-in", keyPath, "-pubout", "-outform", "DER"]);
  assert.equal(der.status, 0, der.stderr.toString());
  return der.stdout.toString("base64");
}

describe("a listed device enrolls over EST with its listed key and no token", () => {
  let root = "";
  let dir = "";
  let remove = () => {};
  let server: ServedRegistry;
  let store: RegistryStore;
  let ca = "";
  const devices = {
    p256: { key: "", handle: "0123456789abcdef0123456789abcdef" },
    ed: { key: "", handle: "" },
    revoked: { key: "", handle: "" },
  };
  const post = (body: string, args: readonly string[] = []) =>
    curl(root, `${server.base}${ENROLL}`, { ca, body, args: [...PKCS10, ...args] });
  const unchangedBy = (request: () => Promise<Answer>) => unchanged(store, request);

  function refusal(answer: Answer, status: number, pattern: RegExp): void {
    const text = answer.body.toString("utf8");
    assert.equal(answer.status, status, text);
    assert.match(text, pattern);
  }

  before(async () => {
    ({ root, dir, remove } = await makeRegistry());
    ca = join(dir, "ca.pem");
    devices.p256.key = newKey(join(root, "p256.key"), "p256");
    devices.ed.key = newKey(join(root, "ed.key"), "ed25519");
    devices.ed.handle = ed25519Handle(devices.ed.key);
    devices.revoked.key = newKey(join(root, "revoked.key"), "ed25519");
    devices.revoked.handle = ed25519Handle(devices.revoked.key);
    const list = Object.values(devices).map(({ key, handle }) =>
      JSON.stringify({ handle, publicKey: spkiBase64(key), label: "line 3" }),
    );
    const file = join(root, "fleet.ndjson");
    writeFileSync(file, `${list.join("\n")}\n`);
    const imported = await reidOk(["registry", "import", "--dir", dir, file]);
    assert.match(imported.stdout, /^imported \(listed\) 3, skipped 0, /);
    server = await serveRegistry(dir);
    store = await openSqliteRegistry(join(dir, "registry.db"));
  });

  after(async () => {
    await store?.close();
    if (server) await server.stop();
    remove();
  });

  test("the import lists them without certificates: devices, show and events say so", async () => {
    const listed = (await reidOk(["registry", "devices", "--dir", dir, "--status", "listed"])).stdout;
    for (const { handle } of Object.values(devices))
      assert.match(listed, new RegExp(`${handle} +listed +- `));
    const report = await reidJson<{ device: { status: string; certificateSerial: null }; certificate: null }>(
      ["registry", "show", devices.p256.handle, "--dir", dir],
    );
    assert.equal(report.device.status, "listed");
    assert.equal(report.device.certificateSerial, null);
    assert.equal(report.certificate, null);
    const text = (await reidOk(["registry", "show", devices.p256.handle, "--dir", dir])).stdout;
    assert.match(text, /^certificate +none yet: issued when it enrolls with its listed key$/m);
    const events = await store.eventsSince(0);
    assert.deepEqual(
      events.map(({ type, data }) => ({ type, data })),
      Object.values(devices).map(() => ({ type: "listed", data: { imported: true, label: "line 3" } })),
    );
    assert.equal((await store.revokedCertificates(new Date().toISOString())).length, 0);
  });

  test("a token-less CSR for an unlisted handle is refused as a missing token, and nothing is signed", async () => {
    const stranger = newKey(join(root, "stranger.key"), "ed25519");
    const answer = await unchangedBy(() => post(csrBase64(stranger, ed25519Handle(stranger))));
    refusal(answer, 401, /Basic credentials .* or a key the registry lists/);
    assert.match(answer.headers, /www-authenticate: Basic realm="reid registry"/i);
  });

  test("a CSR for a listed handle signed by another key is refused", async () => {
    // P-256: the CN names the listed handle, the key is another one.
    const other = newKey(join(root, "other-p256.key"), "p256");
    refusal(
      await unchangedBy(() => post(csrBase64(other, devices.p256.handle))),
      403,
      /not the key listed for device/,
    );
    // Ed25519: the same, found by the key's bytes before the request is verified or anything signed.
    const otherEd = newKey(join(root, "other-ed.key"), "ed25519");
    refusal(
      await unchangedBy(() => post(csrBase64(otherEd, devices.ed.handle))),
      403,
      /not the key listed for device/,
    );
  });

  test("the listed key enrolls without a token; openssl verifies the certificate; a second enrollment is refused", async () => {
    const answer = await post(csrBase64(devices.p256.key, devices.p256.handle));
    assert.equal(answer.status, 200, answer.body.toString());
    assert.match(answer.headers, /reid-log-index: 3/i);
    const pem = pkcs7Certificates(answer.body);
    const file = secretFile(root, "p256.pem", pem);
    const verified = openssl(["verify", "-CAfile", ca, file]);
    assert.ok(verified.ok, verified.out);
    const key = openssl(["x509", "-in", file, "-noout", "-pubkey"]).out;
    assert.equal(key, openssl(["pkey", "-in", devices.p256.key, "-pubout"]).out);
    const device = await store.device(devices.p256.handle);
    assert.equal(device?.status, "active");
    const serial = openssl(["x509", "-in", file, "-noout", "-serial"]).out;
    assert.equal(`serial=${device?.certificateSerial}`, serial.trim().toLowerCase().replace("=0", "="));
    const event = (await store.eventsSince(0)).at(-1);
    assert.deepEqual(
      [event?.type, event?.data],
      ["enrolled", { serial: device?.certificateSerial, listed: true }],
    );

    // The same listed key again: the device is certified already.
    refusal(await unchangedBy(() => post(csrBase64(devices.p256.key, devices.p256.handle))), 409, /already/);
  });

  test("a listed key sent with a token is certified by its listing, and the token stays unspent", async () => {
    const token = await newToken(dir);
    const answer = await post(csrBase64(devices.ed.key, devices.ed.handle), ["-u", `any:${token}`]);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal((await store.device(devices.ed.handle))?.status, "active");
    assert.equal((await store.token(hashToken(token)))?.usedAt, null);
  });

  test("a device revoked while listed is never certified, and nothing is put on the CRL for it", async () => {
    const revoked = await reidJson<{ serial: string | null }>([
      "registry",
      "revoke",
      devices.revoked.handle,
      "--reason",
      "keyCompromise",
      "--dir",
      dir,
    ]);
    assert.equal(revoked.serial, null);
    refusal(
      await unchangedBy(() => post(csrBase64(devices.revoked.key, devices.revoked.handle))),
      409,
      /already/,
    );
    const crl = await curl(root, `${server.base}/crl`, { ca });
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl.body).out;
    assert.match(text, /No Revoked Certificates/);
  });
});

describe("reid enroll --listed", () => {
  const fixture = registryForSuite();

  test("an element the registry listed enrolls without a token; one it did not list is refused, exit 4", async () => {
    const store = join(fixture.root, "listed-element");
    await reidOk(["--store", store, "init"]);
    const { handle, ed25519 } = await reidJson<{ handle: string; ed25519: string }>([
      "--store",
      store,
      "keys",
      "--pem",
      "--alg",
      "ed25519",
    ]);
    const publicKey = ed25519.replace(/-----[A-Z ]+-----|\s/g, "");
    const file = join(fixture.root, "listed.ndjson");
    writeFileSync(file, `${JSON.stringify({ handle, publicKey })}\n`);
    await reidOk(["registry", "import", "--dir", fixture.dir, file]);
    const enroll = (element: string) =>
      reid(["--store", element, "enroll", fixture.served.base, "--ca-fingerprint", fixture.pin, "--listed"]);
    const enrolled = await enroll(store);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.match(enrolled.stdout, new RegExp(`handle +${handle}`));
    const report = await reidJson<{ device: { status: string } }>([
      "registry",
      "show",
      handle,
      "--dir",
      fixture.dir,
    ]);
    assert.equal(report.device.status, "active");

    const stranger = join(fixture.root, "stranger-element");
    await reidOk(["--store", stranger, "init"]);
    assertOneLineError(await enroll(stranger), 4, /refused the enrollment token/);
    const both = await reid([
      "--store",
      stranger,
      "enroll",
      fixture.served.base,
      "--ca-fingerprint",
      fixture.pin,
      "--listed",
      "--token-file",
      file,
    ]);
    assertOneLineError(both, 2, /does not go with --token-file/);
  });
});
