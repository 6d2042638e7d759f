// A device an import listed (docs/spec.md §10.6) enrolls over real EST/HTTPS with no token: curl
// and openssl as the client, `reid registry import` and `serve` as the built CLI. Its CSR signed by
// exactly the listed key certifies it, once; the same key asking again (its answer lost) gets the
// same certificate; another key, a forged request, an unlisted handle, a renewed or token-enrolled
// device and a device revoked while listed are each refused, and leave the registry as it was.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { hashToken } from "../../src/registry/tokens.js";
import { lossyRelay } from "../helpers/answer-lost.js";
import { assertOneLineError, type CliResult, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type Answer,
  csrBase64,
  curl,
  ed25519Handle,
  enrolledElement,
  makeRegistry,
  newKey,
  newToken,
  openssl,
  pkcs7Certificates,
  registryForSuite,
  type ServedRegistry,
  serveRegistry,
  showDevice,
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

  test("the listed key enrolls without a token; openssl verifies the certificate", async () => {
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
  });

  test("the listed key asking again after its answer was lost gets the same certificate and leaf, and nothing changes", async () => {
    const device = await store.device(devices.p256.handle);
    const first = await store.listedEnrollment(devices.p256.handle);
    assert.equal(first?.data.serial, device?.certificateSerial);
    // A new request of the same key (P-256 signs with a fresh nonce: other bytes, the same key).
    for (let i = 0; i < 2; i++) {
      const again = await unchangedBy(() => post(csrBase64(devices.p256.key, devices.p256.handle)));
      assert.equal(again.status, 200, again.body.toString());
      assert.match(again.headers, new RegExp(`reid-log-index: ${first?.leaf}\\r?$`, "im"));
      const pem = pkcs7Certificates(again.body);
      const serial = openssl(["x509", "-noout", "-serial"], pem).out.trim().toLowerCase();
      assert.equal(serial.replace(/^serial=0*/, ""), device?.certificateSerial);
    }
  });

  test("a stranger who knows a certified listed device's handle and key but not its private key gets nothing", async () => {
    // The device's own request, its signature spoilt: what anyone can make without the private key.
    const der = Buffer.from(csrBase64(devices.p256.key, devices.p256.handle), "base64");
    der.writeUInt8((der.at(-1) as number) ^ 0x01, der.length - 1);
    const forged = await unchangedBy(() => post(der.toString("base64")));
    refusal(forged, 400, /signature does not verify/);
    assert.doesNotMatch(forged.body.toString("latin1"), /BEGIN|MII/);
    // Another key naming the handle: refused as before, no certificate either.
    const other = newKey(join(root, "other-p256-late.key"), "p256");
    refusal(
      await unchangedBy(() => post(csrBase64(other, devices.p256.handle))),
      409,
      /enrolled already: with another key/,
    );
  });

  test("a listed key sent with a token is certified by its listing, and the token stays unspent", async () => {
    const token = await newToken(dir);
    const answer = await post(csrBase64(devices.ed.key, devices.ed.handle), ["-u", `any:${token}`]);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal((await store.device(devices.ed.handle))?.status, "active");
    assert.equal((await store.token(hashToken(token)))?.usedAt, null);
    // Certified by its listing, so its key asking without the token gets that answer again.
    const again = await post(csrBase64(devices.ed.key, devices.ed.handle));
    assert.equal(again.status, 200, again.body.toString());
    assert.equal(pkcs7Certificates(again.body), pkcs7Certificates(answer.body));
  });

  test("a device enrolled with a token is not answered to a token-less request of its key", async () => {
    const key = newKey(join(root, "token-enrolled.key"), "ed25519");
    const handle = ed25519Handle(key);
    const enrolled = await post(csrBase64(key, handle), ["-u", `any:${await newToken(dir)}`]);
    assert.equal(enrolled.status, 200, enrolled.body.toString());
    refusal(
      await unchangedBy(() => post(csrBase64(key, handle))),
      409,
      /enrolled already: it was not certified by its listing/,
    );
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
      /enrolled already: it is revoked and is not certified again/,
    );
    const crl = await curl(root, `${server.base}/crl`, { ca });
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl.body).out;
    assert.match(text, /No Revoked Certificates/);
  });

  test("once the listed device renewed, its enrollment is no longer answered again", async () => {
    const device = await store.device(devices.p256.handle);
    const later = new Date(Date.now() + 1000);
    await store.renew({
      handle: devices.p256.handle,
      certificate: {
        serial: "7f0000000000000000000000000000aa",
        der: new Uint8Array([0x30, 0x00]),
        notBefore: later.toISOString(),
        notAfter: new Date(later.getTime() + 86_400_000).toISOString(),
      },
      previous: device?.certificateSerial as string,
      at: later.toISOString(),
    });
    refusal(
      await unchangedBy(() => post(csrBase64(devices.p256.key, devices.p256.handle))),
      409,
      /enrolled already: its certificate was renewed since/,
    );
  });
});

describe("reid enroll --listed", () => {
  const fixture = registryForSuite();

  /** An element made under `name`, and the registry's import listing its handle with `key` (its own Ed25519 key unless given). */
  async function listedElement(name: string, key?: string): Promise<{ store: string; handle: string }> {
    const store = join(fixture.root, name);
    await reidOk(["--store", store, "init"]);
    const { handle, ed25519 } = await reidJson<{ handle: string; ed25519: string }>([
      "--store",
      store,
      "keys",
      "--pem",
      "--alg",
      "ed25519",
    ]);
    const publicKey = key ?? ed25519.replace(/-----[A-Z ]+-----|\s/g, "");
    const file = join(fixture.root, `${name}.ndjson`);
    writeFileSync(file, `${JSON.stringify({ handle, publicKey })}\n`);
    await reidOk(["registry", "import", "--dir", fixture.dir, file]);
    return { store, handle };
  }

  const enrollAt = (store: string, base: string, ...more: string[]) =>
    reid(["--store", store, "enroll", base, "--ca-fingerprint", fixture.pin, "--listed", ...more]);

  test("an element whose answer was lost after the registry committed enrolls when it asks again: the same certificate, its log checked", async () => {
    const { store, handle } = await listedElement("lost-answer");
    const relay = await lossyRelay(fixture.dir, fixture.served.port);
    try {
      assertOneLineError(await enrollAt(store, relay.base), 7, /cannot reach the registry/);
      assert.equal(relay.cut(), 1, "the enrollment's answer was cut");
      const issued = await showDevice(fixture, handle);
      assert.equal(issued.device.status, "active", "the registry committed before the answer was lost");
      assert.equal(existsSync(join(store, "enrollment.json")), false);

      // The retry, through the same network (which no longer cuts), holding the answer to the log.
      const retried = await enrollAt(store, relay.base, "--verify", "--log-key", fixture.logKey);
      assert.equal(retried.code, 0, retried.stderr);
      const { enrollment } = await reidJson<{ enrollment: { serial: string; logSize: number | null } }>([
        "--store",
        store,
        "status",
      ]);
      assert.equal(enrollment.serial, issued.device.certificateSerial);
      assert.ok((enrollment.logSize ?? 0) > 0, "the replayed answer's leaf was checked in the log");
      // And again: idempotent, one enrollment at the registry.
      const again = await enrollAt(store, fixture.served.base);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(
        (await showDevice(fixture, handle)).device.certificateSerial,
        issued.device.certificateSerial,
      );
      const events = await reidOk(["registry", "events", "--dir", fixture.dir, "--json"]);
      const mine = events.stdout.split("\n").filter((line) => line.includes(handle));
      assert.deepEqual(
        mine.map((line) => (JSON.parse(line) as { type: string }).type),
        ["listed", "enrolled"],
      );
    } finally {
      await relay.close();
    }
  });

  test("each refusal of a listed enrollment says what is true of it, in one line, with its exit code", async () => {
    const json = async (result: Promise<CliResult>) =>
      (JSON.parse((await result).stderr) as { error: { code: string } }).error.code;
    // Not listed: no token was sent, so none was refused.
    const stranger = join(fixture.root, "not-listed-element");
    await reidOk(["--store", stranger, "init"]);
    const notListed = await enrollAt(stranger, fixture.served.base);
    assertOneLineError(
      notListed,
      4,
      /does not list this element: a token-less enrollment needs its key imported/,
    );
    assert.doesNotMatch(notListed.stderr, /refused the enrollment token/);
    assert.equal(await json(enrollAt(stranger, fixture.served.base, "--json")), "not-listed");

    // Listed with another key (a P-256 key under this element's handle).
    const other = newKey(join(fixture.root, "other-listed.key"), "p256");
    const { store: mismatched, handle } = await listedElement("mismatched-element", spkiBase64(other));
    assertOneLineError(
      await enrollAt(mismatched, fixture.served.base),
      4,
      new RegExp(
        `refused this element's key for a listed enrollment: the request's key is not the key listed for device ${handle}$`,
      ),
    );
    assert.equal(await json(enrollAt(mismatched, fixture.served.base, "--json")), "registry-refused");

    // Enrolled with a token: certified, but not by a listing, so not answered again.
    const tokenHandle = await enrolledElement(fixture, "token-element");
    const tokenStore = join(fixture.root, "token-element");
    assertOneLineError(
      await enrollAt(tokenStore, fixture.served.base),
      3,
      new RegExp(
        `refused the listed enrollment: device ${tokenHandle} is enrolled already: it was not certified by its listing`,
      ),
    );
    assert.equal(await json(enrollAt(tokenStore, fixture.served.base, "--json")), "already-enrolled");
  });

  test("an element the registry listed enrolls without a token; one it did not list is refused, exit 4", async () => {
    const { store, handle } = await listedElement("listed-element");
    const file = join(fixture.root, "listed-element.ndjson");
    const enroll = (element: string) => enrollAt(element, fixture.served.base);
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
    assertOneLineError(await enroll(stranger), 4, /does not list this element/);
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
