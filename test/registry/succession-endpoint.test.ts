// POST /v1/succession and /v1/retirement (docs/spec.md §10.9) on the built CLI's `registry serve`,
// with curl as the client and statements made by hand: a succession moves a device to its new
// handle with a certificate openssl verifies, a retirement revokes it, and every forged, foreign,
// replayed or malformed statement is refused with its status and one line of JSON, changing
// nothing (a fork only flags the predecessor, with the address it came from, and `registry show`
// shows that flag on the chain, with --dir and --url alike).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DerivedKeys } from "../../src/derive/derivation.js";
import type { SigningAlgorithm } from "../../src/derive/signature.js";
import { type SuccessionStatement, signStatement } from "../../src/derive/succession-statement.js";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import type { DeviceReport } from "../../src/registry/views.js";
import { reidOk } from "../helpers/cli.js";
import {
  type Answer,
  curl,
  makeRegistry,
  newToken,
  openssl,
  pkcs7Certificates,
  type ServedRegistry,
  serveRegistry,
} from "../helpers/registry.js";
import { csrOf, newIdentity, successionBody, successionStatement } from "../helpers/succession.js";
import { secretFile } from "../helpers/temp.js";

const JSON_TYPE = ["-H", "Content-Type: application/json"];

describe("succession and retirement statements at the registry", () => {
  let dir = "";
  let root = "";
  let remove = () => {};
  let server: ServedRegistry;
  let store: RegistryStore;
  let ca = "";
  let origin = "";

  const post = (path: string, body: string | Buffer, args: readonly string[] = JSON_TYPE) =>
    curl(root, `${server.base}${path}`, { ca, body, args });

  /** Every table but the tokens, as rows: compared before and after refusals. */
  const snapshot = async () => ({
    devices: await store.devices(),
    events: await store.eventsSince(0),
    revoked: await store.revokedCertificates("1970-01-01T00:00:00.000Z"),
  });

  /** Enrolls `keys` over EST with a new token. */
  async function enroll(keys: DerivedKeys, algorithm: SigningAlgorithm): Promise<void> {
    const token = await newToken(dir);
    const answer = await post("/.well-known/est/simpleenroll", await csrOf(keys, algorithm), [
      "-H",
      "Content-Type: application/pkcs10",
      "-u",
      `any:${token}`,
    ]);
    assert.equal(answer.status, 200, answer.body.toString());
    pkcs7Certificates(answer.body);
  }

  const statementFor = (from: DerivedKeys, to: DerivedKeys, change: Partial<SuccessionStatement> = {}) =>
    successionStatement(origin, from, to, change);

  function assertRefusal(answer: Answer, status: number, code: string): void {
    const text = answer.body.toString("utf8");
    assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${text}`);
    assert.match(answer.headers, /content-type: application\/json/i);
    assert.ok(!text.trimEnd().includes("\n"), `not one line: ${text}`);
    assert.equal(JSON.parse(text).error.code, code, text);
  }

  function verify(pem: string, crl?: string): boolean {
    const file = secretFile(root, `v-${randomBytes(4).toString("hex")}.pem`, pem);
    return openssl(["verify", "-CAfile", ca, ...(crl ? ["-crl_check", "-CRLfile", crl] : []), file]).ok;
  }

  async function crlFile(): Promise<string> {
    const answer = await curl(root, `${server.base}/crl`, { ca });
    const pem = openssl(["crl", "-inform", "DER"], answer.body);
    assert.ok(pem.ok, pem.out);
    return secretFile(root, `crl-${randomBytes(4).toString("hex")}.pem`, pem.out);
  }

  before(async () => {
    ({ dir, root, remove } = await makeRegistry());
    ca = join(dir, "ca.pem");
    server = await serveRegistry(dir);
    origin = server.base;
    store = await openSqliteRegistry(join(dir, "registry.db"));
  });

  after(async () => {
    await store?.close();
    await server?.stop();
    remove();
  });

  for (const algorithm of ["ed25519", "p256"] as const) {
    test(`${algorithm}: a succession moves the device to its new handle; a replay answers the certificate; a second successor is a flagged fork`, async () => {
      const [old, next, other] = [newIdentity(), newIdentity(), newIdentity()];
      await enroll(old, algorithm);
      const oldSerial = (await store.device(old.handle))?.certificateSerial;
      const body = await successionBody(statementFor(old, next), algorithm, {
        signer: old,
        countersigner: next,
        csr: next,
      });
      const answer = await post("/v1/succession", body);
      assert.equal(answer.status, 200, answer.body.toString());
      const { certificate, serial } = JSON.parse(answer.body.toString());
      assert.ok(verify(certificate));
      assert.match(
        openssl(["x509", "-noout", "-subject"], certificate).out,
        new RegExp(`CN ?= ?${next.handle}`),
      );
      const [was, now] = [await store.device(old.handle), await store.device(next.handle)];
      assert.deepEqual([was?.status, was?.successor], ["superseded", next.handle]);
      assert.deepEqual(
        [now?.status, now?.predecessor, now?.certificateSerial],
        ["active", old.handle, serial],
      );
      assert.equal((await store.certificate(oldSerial ?? ""))?.revocationReason, "superseded");
      const event = (await store.eventsSince(0)).find(
        (e) => e.type === "succeeded" && e.handle === next.handle,
      );
      const sent = JSON.parse(body);
      assert.deepEqual(
        [event?.data.statement, event?.data.signature, event?.data.countersignature],
        [sent.statement, sent.signature, sent.countersignature],
      );

      // The element's answer was lost: the same statement again gets the successor's certificate.
      const before = await snapshot();
      const replayed = await post("/v1/succession", body);
      assertRefusal(replayed, 409, "already-succeeded");
      assert.equal(JSON.parse(replayed.body.toString()).certificate, certificate);
      // The original answer's leaf, as the lost answer said it.
      assert.equal(
        JSON.parse(replayed.body.toString()).logIndex,
        JSON.parse(answer.body.toString()).logIndex,
      );
      assert.equal(JSON.parse(replayed.body.toString()).logIndex, event?.leaf);
      assert.deepEqual(await snapshot(), before);

      // A second successor, properly signed by the old key: refused, and flagged on the predecessor.
      const fork = await successionBody(statementFor(old, other), algorithm, {
        signer: old,
        countersigner: other,
        csr: other,
      });
      assertRefusal(await post("/v1/succession", fork), 409, "device-not-active");
      const after = await snapshot();
      assert.deepEqual(after.devices, before.devices);
      const flagged = after.events.slice(before.events.length);
      assert.deepEqual(
        flagged.map((e) => [e.type, e.handle, e.data.successor, e.data.status, e.data.source]),
        [["fork-refused", old.handle, other.handle, "superseded", "127.0.0.1"]],
      );
      assert.equal(await store.device(other.handle), null);
    });
  }

  test("registry show shows a refused fork on every identity of the chain, text and JSON, --dir and --url alike", async () => {
    const [old, next, other] = [newIdentity(), newIdentity(), newIdentity()];
    await enroll(old, "ed25519");
    const succession = (to: DerivedKeys) =>
      successionBody(statementFor(old, to), "ed25519", { signer: old, countersigner: to, csr: to });
    assert.equal((await post("/v1/succession", await succession(next))).status, 200);
    const tokenFile = secretFile(root, "operator.token", readFileSync(join(dir, "operator.token")));
    const remote = ["--url", server.base, "--ca", ca, "--token-file", tokenFile];
    const show = async (handle: string, where: readonly string[], json = false) =>
      (await reidOk(["registry", "show", handle, ...where, ...(json ? ["--json"] : [])])).stdout;
    const unflagged = await show(next.handle, ["--dir", dir]);
    assert.doesNotMatch(unflagged, /^flags/m);

    assertRefusal(await post("/v1/succession", await succession(other)), 409, "device-not-active");
    const flag = (await store.eventsSince(0)).find(
      (e) => e.type === "fork-refused" && e.handle === old.handle,
    );
    assert.ok(flag);
    const report = JSON.parse(await show(next.handle, ["--dir", dir], true)) as DeviceReport;
    assert.deepEqual(report.flags, [
      {
        sequence: flag.sequence,
        type: "fork-refused",
        handle: old.handle,
        at: flag.at,
        successor: other.handle,
        status: "superseded",
        source: "127.0.0.1",
      },
    ]);
    assert.equal(report.earlierFlags, false);
    const text = await show(next.handle, ["--dir", dir]);
    assert.equal(
      text,
      `${unflagged}flags       1 refused fork\n! 1  ${flag.at}  successor ${other.handle} refused: identity 1 was already superseded; from 127.0.0.1; event ${flag.sequence}\n`,
    );
    // The flagged identity shows it too, and the operator's API answers the same report.
    assert.match(await show(old.handle, ["--dir", dir]), /\nflags {7}1 refused fork\n! 1 {2}/);
    for (const handle of [old.handle, next.handle]) {
      for (const json of [false, true]) {
        assert.equal(await show(handle, remote, json), await show(handle, ["--dir", dir], json));
      }
    }
  });

  test("forged, foreign, mismatched and malformed statements are refused, each changing nothing", async () => {
    const [device, next, other] = [newIdentity(), newIdentity(), newIdentity()];
    await enroll(device, "ed25519");
    const good = statementFor(device, next);
    const keys = { signer: device, countersigner: next, csr: next };
    const unknown = newIdentity();
    const validBody = JSON.parse(await successionBody(good, "ed25519", keys));
    const cases: [string, string | Buffer, number, string, string[]?][] = [
      [
        "bad old signature",
        await successionBody(good, "ed25519", { ...keys, signer: other }),
        403,
        "bad-signature",
      ],
      [
        "bad countersignature",
        await successionBody(good, "ed25519", { ...keys, countersigner: other }),
        403,
        "bad-signature",
      ],
      [
        "a CSR of another key",
        await successionBody(good, "ed25519", { ...keys, csr: other }),
        403,
        "handle-mismatch",
      ],
      [
        "a handle that is not its key's",
        await successionBody(statementFor(device, next, { handle: other.handle }), "ed25519", keys),
        403,
        "handle-mismatch",
      ],
      [
        "another registry",
        await successionBody(
          statementFor(device, next, { registry: "https://other.example:8443" }),
          "ed25519",
          keys,
        ),
        403,
        "wrong-registry",
      ],
      [
        "an unknown predecessor",
        await successionBody(statementFor(unknown, next), "ed25519", { ...keys, signer: unknown }),
        404,
        "unknown-device",
      ],
      [
        "a p256 signature for an ed25519 device",
        await successionBody(good, "p256", { ...keys, csr: next }),
        403,
        "bad-signature",
      ],
      ["not JSON", "{", 400, "bad-statement"],
      [
        "a missing countersignature",
        JSON.stringify({ ...validBody, countersignature: undefined }),
        400,
        "bad-statement",
      ],
      ["an extra field", JSON.stringify({ ...validBody, note: "x" }), 400, "bad-statement"],
      [
        "a statement not canonical",
        JSON.stringify({
          ...validBody,
          statement: Buffer.from(
            Buffer.from(validBody.statement, "base64url").toString().replace(":1,", ": 1,"),
          ).toString("base64url"),
        }),
        400,
        "bad-statement",
      ],
      ["a body over 16 KiB", JSON.stringify({ ...validBody, csr: "A".repeat(20_000) }), 413, "too-large"],
      [
        "text instead of JSON",
        JSON.stringify(validBody),
        400,
        "bad-statement",
        ["-H", "Content-Type: text/plain"],
      ],
      [
        "a retirement sent as a succession",
        JSON.stringify({
          ...signStatement(
            { v: 1, type: "retirement", registry: origin, handle: device.handle, at: good.at },
            "ed25519",
            device,
          ),
          countersignature: validBody.countersignature,
          csr: validBody.csr,
        }),
        400,
        "bad-statement",
      ],
    ];
    const before = await snapshot();
    const answers = await Promise.all(cases.map(([, body, , , args]) => post("/v1/succession", body, args)));
    assert.deepEqual(await snapshot(), before, "a refused statement changed the registry");
    cases.forEach(([what, , status, code], i) => {
      const answer = answers[i] as Answer;
      if (status === 413) assert.equal(answer.status, 413, what);
      else assertRefusal(answer, status, code);
    });
    // The good one still goes through afterwards: nothing above spent it.
    assert.equal((await post("/v1/succession", JSON.stringify(validBody))).status, 200);
  });

  test("a retirement revokes the device with no link; its replay, a forged one and a succession of the revoked device are refused", async () => {
    const [device, forger, next] = [newIdentity(), newIdentity(), newIdentity()];
    await enroll(device, "p256");
    const retirement = {
      v: 1,
      type: "retirement",
      registry: origin,
      handle: device.handle,
      at: new Date().toISOString(),
    } as const;
    const before = await snapshot();
    assertRefusal(
      await post("/v1/retirement", JSON.stringify(signStatement(retirement, "p256", forger))),
      403,
      "bad-signature",
    );
    assertRefusal(
      await post(
        "/v1/retirement",
        JSON.stringify(signStatement({ ...retirement, registry: "https://elsewhere" }, "p256", device)),
      ),
      403,
      "wrong-registry",
    );
    assert.deepEqual(await snapshot(), before);
    const serial = (await store.device(device.handle))?.certificateSerial ?? "";
    const certificate = (await store.certificate(serial))?.der ?? new Uint8Array();
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(certificate).toString("base64")}\n-----END CERTIFICATE-----\n`;
    assert.ok(verify(pem, await crlFile()));

    const body = JSON.stringify(signStatement(retirement, "p256", device));
    const answer = await post("/v1/retirement", body);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal(JSON.parse(answer.body.toString()).serial, serial);
    const gone = await store.device(device.handle);
    assert.deepEqual([gone?.status, gone?.successor], ["revoked", null]);
    assert.equal((await store.certificate(serial))?.revocationReason, "cessationOfOperation");
    assert.ok(!verify(pem, await crlFile()), "the CRL does not revoke the retired certificate");

    const retired = await snapshot();
    assertRefusal(await post("/v1/retirement", body), 409, "device-not-active");
    assert.deepEqual(await snapshot(), retired);
    // A successor of a revoked identity is a fork: refused and flagged.
    const fork = await successionBody(statementFor(device, next), "p256", {
      signer: device,
      countersigner: next,
      csr: next,
    });
    assertRefusal(await post("/v1/succession", fork), 409, "device-not-active");
    const flagged = (await snapshot()).events.slice(retired.events.length);
    assert.deepEqual(
      flagged.map((e) => [e.type, e.data.status]),
      [["fork-refused", "revoked"]],
    );
  });
});
