// The JSON routes of the owner's console over plain HTTP, no browser: the first run's PIN, the
// mode switch, sealing, bindings, keys, the certificate, the audit log, the erase confirmation and
// passkey names. Each route refuses a caller without a session, without sign-in, without the CSRF
// token or from another origin, and each operation without its fresh proof; every refusal is
// checked against the element itself: nothing changed, nothing counted.
import assert from "node:assert/strict";
import { createPublicKey, verify as verifySignature } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { reid, reidJson, reidOk } from "../helpers/cli.js";
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

const READS = [
  "/api/bindings",
  "/api/keys",
  "/api/keys/ed25519.pem",
  "/api/certificate",
  "/api/log",
  "/api/config",
  "/api/csr",
];
const WRAP_KEY = "2b".repeat(32);
const OPERATIONS: readonly [string, Record<string, unknown>][] = [
  ["/api/mode", { mode: "random", proof: { pin: PIN } }],
  ["/api/seal", { proof: { pin: PIN } }],
  ["/api/bindings/0123456789abcdef0123456789abcdef/unbind", { proof: { pin: PIN } }],
  ["/api/unlock", { seconds: 60, proof: { pin: PIN } }],
  ["/api/lock", {}],
  ["/api/pin/change", { pin: PIN, newPin: "another pin 456" }],
  ["/api/config", { setting: "single-type", on: true, proof: { pin: PIN } }],
  ["/api/sign", { message: "00" }],
  ["/api/verify", { message: "00", signature: "00".repeat(64) }],
  ["/api/export", { wrapKey: WRAP_KEY, proof: { pin: PIN } }],
  [
    "/api/bind",
    {
      address: "127.0.0.1:7470",
      handle: "0123456789abcdef0123456789abcdef",
      code: "ABCDE-12345",
      proof: { pin: PIN },
    },
  ],
  ["/api/bindings/0123456789abcdef0123456789abcdef/command", { name: "blink", proof: { pin: PIN } }],
  ["/api/bindings/0123456789abcdef0123456789abcdef/telemetry", { count: 2, proof: { pin: PIN } }],
];
/** The routes a session alone may call, signed in or not: only the owner's account gets a link. */
const SESSION_ONLY: readonly [string, Record<string, unknown>][] = [
  ["/api/pin", { newPin: "a new pin 123" }],
  ["/api/pin/unlock", { recoveryCode: "AAAA-BBBB-CCCC-DDDD-EEEE" }],
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
    for (const [path, body] of [...OPERATIONS, ...SESSION_ONLY]) {
      assertRefused(await nobody.post(path, body), 401, "no-link");
    }

    const client = new PageClient(daemon);
    // Each refusal spends a token of this address's bucket: its own, so the tests after keep theirs.
    client.localAddress = "127.0.0.6";
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
    for (const [path, body] of [...OPERATIONS, ...SESSION_ONLY]) {
      assertRefused(await client.post(path, body, { "x-csrf-token": null }), 403, "csrf");
      assertRefused(await client.post(path, body, { origin: "http://evil.example" }), 403, "bad-origin");
      assertRefused(await client.post(path, body, { "sec-fetch-site": "cross-site" }), 403, "cross-site");
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

  test("the user role's routes: bad input is refused before the proof is read, and a device not bound before it is spent", async () => {
    const client = new PageClient(daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const wrong = { pin: "not the pin 0000" };
    // Commands and telemetry: the device's shape and the readings' bounds, then a device we are bound to.
    const device = "/api/bindings/0123456789abcdef0123456789abcdef";
    for (const body of [
      { proof: wrong },
      { name: "Not A Name", proof: wrong },
      { name: "blink", args: "fast", proof: wrong },
      { name: "blink", args: [1], proof: wrong },
    ]) {
      assertRefused(await client.post(`${device}/command`, body), 400, "usage");
    }
    for (const count of [0, 65, "2"]) {
      assertRefused(await client.post(`${device}/telemetry`, { count, proof: wrong }), 400, "usage");
    }
    assertRefused(await client.post(`${device}/command`, { name: "blink", proof: wrong }), 409, "not-bound");
    assertRefused(await client.post(`${device}/telemetry`, { proof: wrong }), 409, "not-bound");
    // A bind: the device's address, its handle and the setup code's form, before the proof.
    const bind = {
      address: "127.0.0.1:7470",
      handle: "0123456789abcdef0123456789abcdef",
      code: "ABCDE-12345",
    };
    for (const bad of [
      { address: "nowhere" },
      { address: undefined },
      { handle: "0123" },
      { handle: "0123456789ABCDEF0123456789ABCDEF" },
      { code: "ABCDE" },
      { code: undefined },
    ]) {
      const refused = await client.post("/api/bind", { ...bind, ...bad, proof: wrong });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.json.error.code, /^(?:usage|bad-code)$/);
    }
    // A passkey challenge names each new operation (none is registered here: no-passkey, not usage).
    for (const intent of [
      "export",
      "single-type-on",
      "passkeys-bypass-lockout-off",
      "bind:0123abcd",
      "command:0123abcd",
      "telemetry:0123abcd",
    ]) {
      assertRefused(await client.post("/api/proof/options", { intent }), 400, "no-passkey");
    }
    assert.deepEqual(await snapshot(), was);
  });

  test("settings: each change needs its fresh proof and runs the element's own operation, as `reid config` shows", async () => {
    const client = new PageClient(served.daemon);
    await client.signInWithPin();
    const cli = () => reidJson(["--store", store(), "config"]);
    const before = await client.get("/api/config");
    assert.deepEqual(before.json, await cli());
    const was = await snapshot();
    assertRefused(
      await client.post("/api/config", { setting: "single-type", on: true }),
      403,
      "proof-required",
    );
    // Bad input before the proof is read: an unknown setting (the enrollment's is the CLI's), not a flag.
    const wrong = { pin: "not the pin 0000" };
    for (const body of [
      { setting: "registry-continuity", on: true, proof: wrong },
      { setting: "single-type", on: "yes", proof: wrong },
      { setting: "single-type", proof: wrong },
    ]) {
      assertRefused(await client.post("/api/config", body), 400, "usage");
    }
    assert.deepEqual({ ...(await snapshot()), audit: was.audit }, was);
    for (const [setting, on] of [
      ["single-type", true],
      ["passkeys-bypass-lockout", true],
      ["single-type", false],
      ["passkeys-bypass-lockout", false],
    ] as const) {
      const changed = await client.post("/api/config", { setting, on, proof: { pin: PIN } });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.json[setting], on);
      assert.deepEqual(changed.json, await cli());
    }
    assert.deepEqual(
      (await auditLog(store())).slice(was.audit).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["single-type-on", "web:pin", "proof-required"],
        ["single-type-on", "web:pin", "ok"],
        ["passkeys-bypass-lockout-on", "web:pin", "ok"],
        ["single-type-off", "web:pin", "ok"],
        ["passkeys-bypass-lockout-off", "web:pin", "ok"],
      ],
    );
  });

  test("export: the wrapped identifier, as `reid export` prints it under the same key, only with a fresh proof", async () => {
    const client = new PageClient(served.daemon);
    await client.signInWithPin();
    const was = await snapshot();
    assertRefused(await client.post("/api/export", { wrapKey: WRAP_KEY }), 403, "proof-required");
    for (const wrapKey of [undefined, "2b".repeat(31), "zz".repeat(32), "2b".repeat(33)]) {
      const body = { ...(wrapKey === undefined ? {} : { wrapKey }), proof: { pin: "not the pin 0000" } };
      assertRefused(await client.post("/api/export", body), 400, "usage");
    }
    assert.deepEqual({ ...(await snapshot()), audit: was.audit }, was);
    const exported = await client.post("/api/export", { wrapKey: WRAP_KEY, proof: { pin: PIN } });
    assert.equal(exported.status, 200, exported.text);
    // What `reid export --json` answers, and nothing more: never the identifier itself.
    assert.deepEqual(Object.keys(exported.json).sort(), ["algorithm", "generation", "handle", "wrapped"]);
    const keyFile = join(served.dir, "wrap.key");
    writeFileSync(keyFile, Buffer.from(WRAP_KEY, "hex"), { mode: 0o600 });
    const cli = await reidJson([
      "--store",
      store(),
      "--pin-file",
      served.pinFile,
      "export",
      "--wrap-key",
      keyFile,
    ]);
    assert.deepEqual(exported.json, cli);
    assert.deepEqual(
      (await auditLog(store())).slice(was.audit).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["export", "web:pin", "proof-required"],
        ["export", "web:pin", "ok"],
        ["export", "cli", "ok"],
      ],
    );
  });

  test("the PIN: a change needs the present PIN (never a passkey), counted when wrong; the recovery code is checked", async () => {
    const client = new PageClient(served.daemon);
    await client.signInWithPin();
    const was = await snapshot();
    const other = "another pin 456";
    for (const body of [
      { newPin: other },
      { proof: { pin: PIN }, newPin: other },
      { pin: PIN },
      { pin: PIN, newPin: 42 },
    ]) {
      assertRefused(await client.post("/api/pin/change", body), 400, "usage");
    }
    assertRefused(await client.post("/api/pin/change", { pin: PIN, newPin: "short" }), 400, "bad-pin");
    const wrong = await client.post("/api/pin/change", { pin: "not the pin 0000", newPin: other });
    assertRefused(wrong, 403, "wrong-pin");
    assert.deepEqual(
      (await auditLog(store())).slice(was.audit).map((r) => [r.request, r.principal, r.outcome]),
      [
        ["pin-change", "web:pin", "bad-pin"],
        ["pin-change", "web:pin", "wrong-pin"],
      ],
    );
    // One wrong PIN on the page holds the next try back 1 s (docs/spec.md §2.8).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const changed = await client.post("/api/pin/change", { pin: PIN, newPin: other });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual(changed.json, { pin: "changed", recoveryCode: null });
    // The old PIN no longer proves anything; the new one does, and changes it back.
    const otherFile = join(served.dir, "other-pin");
    writeFileSync(otherFile, `${other}\n`, { mode: 0o600 });
    const old = await reid(["--store", store(), "--pin-file", served.pinFile, "reset"]);
    assert.equal(old.code, 4, old.stderr);
    const back = await client.post("/api/pin/change", { pin: other, newPin: PIN });
    assert.equal(back.status, 200, back.text);
    assert.equal((await auditLog(store())).at(-1)?.request, "pin-change");

    // The recovery code: bad input, then a wrong code, refused (the element keeps its own).
    const nobody = new PageClient(served.daemon);
    await nobody.open();
    assertRefused(await nobody.post("/api/pin/unlock", {}), 400, "usage");
    assertRefused(await nobody.post("/api/pin/unlock", { recoveryCode: "x".repeat(65) }), 400, "usage");
    assertRefused(
      await nobody.post("/api/pin/unlock", { recoveryCode: "AAAA-BBBB-CCCC-DDDD-EEEE" }),
      403,
      "wrong-recovery-code",
    );
    assert.deepEqual((await auditLog(store())).at(-1)?.outcome, "wrong-recovery-code");
  });

  test("sign, verify and the CSR: as `reid sign`, `reid verify` and `reid csr` give them", async () => {
    const client = new PageClient(served.daemon);
    await client.signInWithPin();
    const message = Buffer.from("a message from the page\n");
    const messageFile = join(served.dir, "message");
    writeFileSync(messageFile, message);
    for (const algorithm of ["ed25519", "p256"]) {
      const signed = await client.post("/api/sign", { algorithm, message: message.toString("hex") });
      assert.equal(signed.status, 200, signed.text);
      // Checked against the public key `reid keys --pem` gives, outside reid.
      const pem = (await reidOk(["--store", store(), "keys", "--pem", "--alg", algorithm])).stdout;
      const signature = Buffer.from(signed.json.signature, "hex");
      const hash = algorithm === "p256" ? "sha256" : null;
      assert.equal(verifySignature(hash, message, createPublicKey(pem), signature), true);
      // `reid verify` tells the algorithm from the signature, and so does the page.
      const sigFile = join(served.dir, `${algorithm}.sig`);
      writeFileSync(sigFile, signature);
      await reidOk(["--store", store(), "verify", messageFile, sigFile]);
      const cliSig = (
        await reidOk(["--store", store(), "sign", messageFile, "--alg", algorithm])
      ).stdout.trim();
      // The CLI's hex, as a signature file holds it, verifies on the page with no algorithm named.
      const checked = await client.post("/api/verify", {
        message: message.toString("hex"),
        signature: Buffer.from(`${cliSig}\n`).toString("hex"),
      });
      assert.deepEqual(
        { valid: checked.json.valid, algorithm: checked.json.algorithm },
        { valid: true, algorithm },
      );
      const tampered = await client.post("/api/verify", {
        message: Buffer.from("another message").toString("hex"),
        signature: signature.toString("hex"),
      });
      assert.equal(tampered.status, 200);
      assert.deepEqual([tampered.json.valid, tampered.json.candidates], [false, [algorithm]]);
    }
    const neither = await client.post("/api/verify", { message: "00", signature: "01".repeat(10) });
    assert.deepEqual([neither.json.valid, neither.json.candidates], [false, []]);
    assertRefused(await client.post("/api/sign", { algorithm: "x25519", message: "00" }), 400, "usage");
    assertRefused(await client.post("/api/sign", { message: "" }), 400, "usage");
    assertRefused(await client.post("/api/sign", { message: "0" }), 400, "usage");
    // A file of 1 MiB is signed; one byte more is refused.
    const mib = Buffer.alloc(1024 * 1024, 7);
    const big = await client.post("/api/sign", { algorithm: "ed25519", message: mib.toString("hex") });
    assert.equal(big.status, 200, big.text.slice(0, 200));
    const ed = (await reidOk(["--store", store(), "keys", "--pem", "--alg", "ed25519"])).stdout;
    assert.equal(
      verifySignature(null, mib, createPublicKey(ed), Buffer.from(big.json.signature, "hex")),
      true,
    );
    const tooBig = await client.post("/api/sign", {
      message: Buffer.concat([mib, mib.subarray(0, 1)]).toString("hex"),
    });
    assertRefused(tooBig, 400, "usage");
    assertRefused(
      await client.post("/api/verify", { message: "00", signature: "00".repeat(513) }),
      400,
      "usage",
    );

    // The CSR: Ed25519 signatures are deterministic, so the page's request is the CLI's, byte for byte.
    const csr = await client.get("/api/csr?algorithm=ed25519&subject=CN%3Dsensor-7%2C%20O%3DAcme");
    assert.equal(csr.status, 200, csr.text);
    assert.match(
      String(csr.headers["content-disposition"]),
      /^attachment; filename="reid-[0-9a-f]{8}-ed25519\.csr"$/,
    );
    const cli = await reidOk(["--store", store(), "csr", "--subject", "CN=sensor-7, O=Acme"]);
    assert.equal(csr.text.trimEnd(), cli.stdout.trimEnd());
    assertRefused(await client.get("/api/csr?subject=not%20a%20name"), 400, "usage");
    assertRefused(await client.get("/api/csr?algorithm=x25519"), 400, "usage");
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
