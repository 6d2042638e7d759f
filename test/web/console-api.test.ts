// The JSON routes of the owner's console over plain HTTP, no browser: the first run's PIN, the
// mode switch, sealing, bindings, keys, the certificate, the audit log, the erase confirmation and
// passkey names. Each route refuses a caller without a session, without sign-in, without the CSRF
// token or from another origin, and each operation without its fresh proof; every refusal is
// checked against the element itself: nothing changed, nothing counted.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { reidJson, reidOk } from "../helpers/cli.js";
import {
  assertRefused,
  auditLog,
  PageClient,
  PIN,
  type ServedPage,
  servedPage,
  serveWeb,
  snapshot as snapshotOf,
  status,
  type WebDaemon,
} from "./helpers.js";

const READS = ["/api/bindings", "/api/keys", "/api/keys/ed25519.pem", "/api/certificate", "/api/log"];
const OPERATIONS: readonly [string, Record<string, unknown>][] = [
  ["/api/mode", { mode: "random", proof: { pin: PIN } }],
  ["/api/seal", { proof: { pin: PIN } }],
  ["/api/bindings/0123456789abcdef0123456789abcdef/unbind", { proof: { pin: PIN } }],
];

describe("the console's routes over HTTP", () => {
  let served: ServedPage;
  // Set by the first hook, for every test below.
  let daemon: WebDaemon;
  const store = () => served.store;
  const snapshot = () => snapshotOf(store());

  before(async () => {
    served = await servedPage("reid-web-console-api-");
    daemon = served.daemon;
  });
  after(() => served?.close());

  test("without a session every route is refused (no-link); signed out, every route but the status (not-signed-in)", async () => {
    const was = await snapshot();
    const nobody = new PageClient(daemon);
    for (const path of READS) assertRefused(await nobody.get(path), 401, "no-link");
    for (const [path, body] of OPERATIONS) assertRefused(await nobody.post(path, body), 401, "no-link");
    assertRefused(await nobody.post("/api/pin", { newPin: "a new pin 123" }), 401, "no-link");

    const client = new PageClient(daemon);
    await client.open();
    for (const path of READS) assertRefused(await client.get(path), 401, "not-signed-in");
    for (const [path, body] of OPERATIONS) assertRefused(await client.post(path, body), 401, "not-signed-in");
    // The status is public before sign-in, and only its public part.
    const open = await client.get("/api/status");
    assert.deepEqual(Object.keys(open.json).sort(), ["generation", "handle", "mode", "state"]);
    assert.deepEqual(await snapshot(), was);
  });

  test("without the CSRF token, from another origin or cross-site, every route is refused", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    for (const [path, body] of [...OPERATIONS, ["/api/pin", { newPin: "a new pin 123" }] as const]) {
      assertRefused(await client.post(path, body, { "x-csrf-token": null }), 403, "csrf");
      assertRefused(await client.post(path, body, { origin: "http://evil.example" }), 403, "bad-origin");
    }
    for (const path of READS) {
      assertRefused(await client.get(path, { "sec-fetch-site": "cross-site" }), 403, "cross-site");
    }
    assert.deepEqual(await snapshot(), was);
  });

  test("the mode switch, sealing and unbinding each need a fresh proof, recorded when missing", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    assertRefused(await client.post("/api/mode", { mode: "random" }), 403, "proof-required");
    assertRefused(await client.post("/api/seal", {}), 403, "proof-required");
    assertRefused(
      await client.post("/api/bindings/0123456789abcdef0123456789abcdef/unbind", { proof: {} }),
      403,
      "proof-required",
    );
    const now = await snapshot();
    assert.deepEqual({ ...now, audit: was.audit }, was);
    assert.deepEqual(
      (await auditLog(store())).slice(was.audit).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["mode-random", "web:pin", "proof-required"],
        ["seal", "web:pin", "proof-required"],
        ["unbind", "web:pin", "proof-required"],
      ],
    );
  });

  test("bad input is refused before the proof is read: nothing counted, nothing recorded", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const wrong = { pin: "not the pin 0000" };
    assertRefused(await client.post("/api/mode", { mode: "sideways", proof: wrong }), 400, "usage");
    assertRefused(await client.post("/api/mode", { mode: "random", fast: true, proof: wrong }), 400, "usage");
    assertRefused(
      await client.post("/api/mode", { mode: "random", unlinkable: "yes", proof: wrong }),
      400,
      "usage",
    );
    assertRefused(await client.post("/api/seal", { key: "tpm", proof: wrong }), 400, "usage");
    assertRefused(await client.post("/api/bindings/not%20a%20handle/unbind", { proof: wrong }), 400, "usage");
    assertRefused(await client.get("/api/keys/rsa.pem"), 400, "usage");
    assertRefused(await client.get("/api/certificate?algorithm=x25519"), 400, "usage");
    assertRefused(await client.get("/api/certificate?days=0"), 400, "usage");
    // An erase needs the handle's short form typed; a reset takes no confirmation at all.
    for (const confirm of [undefined, "", "erase", "00000000", was.handle?.slice(0, 7)]) {
      const body = { type: "erase", ...(confirm === undefined ? {} : { confirm }), proof: wrong };
      const refused = await client.post("/api/requests", body);
      assertRefused(refused, 400, "confirmation-required");
      assert.match(refused.json.error.message, new RegExp(`'${was.handle?.slice(0, 8)}'`));
    }
    assertRefused(
      await client.post("/api/requests", { type: "reset", confirm: "x", proof: wrong }),
      400,
      "usage",
    );
    // A passkey with no name, or a name of control characters or over 64 characters.
    const response = {
      id: "AAAA",
      rawId: "AAAA",
      type: "public-key",
      response: {},
      clientExtensionResults: {},
    };
    for (const name of [undefined, "", "  ", "a\u0007b", "x".repeat(65)]) {
      const body = { response, pin: "not the pin 0000", ...(name === undefined ? {} : { name }) };
      assertRefused(await client.post("/api/passkeys", body), 400, "usage");
    }
    // A passkey challenge is asked for a named operation: the new ones are among them.
    for (const intent of ["mode-random", "seal", "unbind:0123abcd"]) {
      assertRefused(await client.post("/api/proof/options", { intent }), 400, "no-passkey");
    }
    for (const intent of ["mode-sideways", "unbind:", "seal-now"]) {
      assertRefused(await client.post("/api/proof/options", { intent }), 400, "usage");
    }
    assert.deepEqual(await snapshot(), was);
  });

  test("signed in, the reads answer what the CLI answers", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const keys = await client.get("/api/keys");
    assert.deepEqual(keys.json, await reidJson(["--store", store(), "keys"]));
    const pem = await client.get("/api/keys/x25519.pem");
    assert.equal(pem.status, 200);
    assert.match(
      String(pem.headers["content-disposition"]),
      /^attachment; filename="reid-[0-9a-f]{8}-x25519\.pem"$/,
    );
    assert.equal(pem.text, (await reidOk(["--store", store(), "keys", "--pem", "--alg", "x25519"])).stdout);
    const certificate = await client.get("/api/certificate?algorithm=ed25519&days=10");
    assert.match(certificate.text, /^-----BEGIN CERTIFICATE-----\n/);
    const log = await client.get("/api/log");
    const records = await auditLog(store());
    assert.equal(log.json.verdict.intact, true);
    assert.equal(log.json.total, records.length);
    assert.deepEqual(
      log.json.records.map((r: { seq: number }) => r.seq),
      records
        .slice(-25)
        .reverse()
        .map((r) => r.seq),
    );
    const bindings = await client.get("/api/bindings");
    assert.deepEqual(bindings.json, await reidJson(["--store", store(), "bindings"]));
    // Without a key-encryption key there is nothing to seal under: the element says so, once proved.
    const seal = await client.post("/api/seal", { proof: { pin: PIN } });
    assertRefused(seal, 400, "usage");
    assert.match(seal.json.error.message, /key-encryption key/);
  });
});

describe("the first run over HTTP", () => {
  test("the link's session sets the PIN once, with the element's rules; a second set is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reid-web-first-run-"));
    const store = join(dir, "store");
    await reidOk(["--store", store, "init"]);
    const daemon = await serveWeb(store);
    try {
      const client = new PageClient(daemon);
      await client.open();
      assertRefused(await client.post("/api/pin", {}), 400, "usage");
      assertRefused(await client.post("/api/pin", { newPin: "short" }), 400, "bad-pin");
      assertRefused(await client.post("/api/pin", { newPin: PIN, pin: PIN }), 400, "usage");
      assert.equal((await status(store)).owner.pin, false);

      const set = await client.post("/api/pin", { newPin: PIN });
      assert.equal(set.status, 200, set.text);
      assert.match(set.json.recoveryCode, /^[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){4}$/);
      assert.deepEqual(Object.keys(set.json), ["recoveryCode"]);
      assert.equal((await status(store)).owner.pin, true);
      const last = (await auditLog(store)).at(-1);
      assert.deepEqual([last?.request, last?.principal, last?.outcome], ["pin-set", "web", "ok"]);

      // Set once: this session, or any other, changes it no more (that is `reid pin change`'s).
      const again = new PageClient(daemon);
      await again.open();
      assertRefused(await again.post("/api/pin", { newPin: "another pin 456" }), 409, "pin-already-set");
      assertRefused(await client.post("/api/pin", { newPin: "another pin 456" }), 409, "pin-already-set");
      await client.signInWithPin(PIN);
      assert.equal((await auditLog(store)).at(-1)?.request, "web-sign-in");
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
