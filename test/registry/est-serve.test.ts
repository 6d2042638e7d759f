// `reid registry serve` (docs/spec.md §10.7) as the built CLI, with curl and openssl as an EST client
// that owes reid nothing: the CA from cacerts, P-256 and Ed25519 enrollments with a token, a renewal
// over mTLS, and a CRL that openssl's -crl_check reads. Then the same server as an attacker sees it:
// each refusal has its status and one line, and leaves the database as it was.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { hashToken } from "../../src/registry/tokens.js";
import { assertOneLineError, reid } from "../helpers/cli.js";
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
  type ServedRegistry,
  serveRegistry,
  unchangedBy as unchanged,
} from "../helpers/registry.js";
import { secretFile } from "../helpers/temp.js";

const ENROLL = "/.well-known/est/simpleenroll";
const REENROLL = "/.well-known/est/simplereenroll";
const PKCS10 = ["-H", "Content-Type: application/pkcs10"];

/** The serial openssl reads in a PEM certificate, lowercase hex as the store keeps it. */
function serialOf(pem: string): string {
  const out = openssl(["x509", "-noout", "-serial"], pem).out;
  return (/serial=([0-9A-F]+)/.exec(out)?.[1] ?? "").toLowerCase().replace(/^0+/, "");
}

/** A refusal: the status, exactly one short line of text, and for a 401 the Basic realm. */
function assertRefusal(answer: Answer, status: number, pattern?: RegExp): void {
  const text = answer.body.toString("utf8");
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${text}`);
  assert.match(answer.headers, /content-type: text\/plain/i);
  assert.ok(
    text.endsWith("\n") && text.indexOf("\n") === text.length - 1,
    `not one line: ${JSON.stringify(text)}`,
  );
  assert.ok(text.length < 200, `a long error line: ${text}`);
  if (pattern) assert.match(text, pattern);
  if (status === 401) assert.match(answer.headers, /www-authenticate: Basic realm="reid registry"/i);
}

describe("reid registry serve with curl and openssl as the EST client", () => {
  let dir = "";
  let root = "";
  let remove = () => {};
  let server: ServedRegistry;
  let store: RegistryStore;
  let ca = "";
  const post = (path: string, body: string | Buffer, args: readonly string[]) =>
    curl(root, `${server.base}${path}`, { ca, body, args });

  /** A refused request changed nothing, and (when given) left its token unspent. */
  async function unchangedBy(request: () => Promise<Answer>, token?: string): Promise<Answer> {
    const answer = await unchanged(store, request);
    if (token !== undefined) assert.equal((await store.token(hashToken(token)))?.usedAt, null, "token spent");
    return answer;
  }

  /** Enrolls `key` under `cn` with a new token: the certificate openssl read from the answer. */
  async function enroll(key: string, cn: string): Promise<{ pem: string; token: string }> {
    const token = await newToken(dir);
    const answer = await post(ENROLL, csrBase64(key, cn), [...PKCS10, "-u", `any:${token}`]);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.match(answer.headers, /content-type: application\/pkcs7-mime; smime-type=certs-only/i);
    assert.match(answer.headers, /content-transfer-encoding: base64/i);
    return { pem: pkcs7Certificates(answer.body), token };
  }

  function verify(pem: string, crl?: string): { ok: boolean; out: string } {
    const file = secretFile(root, `verify-${Math.random().toString(36).slice(2)}.pem`, pem);
    return openssl(["verify", "-CAfile", ca, ...(crl ? ["-crl_check", "-CRLfile", crl] : []), file]);
  }

  async function fetchCrl(): Promise<string> {
    const answer = await curl(root, `${server.base}/crl`, { ca });
    assert.equal(answer.status, 200);
    assert.match(answer.headers, /content-type: application\/pkix-crl/i);
    const pem = openssl(["crl", "-inform", "DER"], answer.body);
    assert.ok(pem.ok, pem.out);
    return secretFile(root, `crl-${Math.random().toString(36).slice(2)}.pem`, pem.out);
  }

  // The devices the flow makes, shared with the refusals below.
  const p256 = { key: "", handle: "", pem: "", renewed: "" };
  const ed = { key: "", handle: "", pem: "" };

  before(async () => {
    ({ dir, root, remove } = await makeRegistry());
    ca = join(dir, "ca.pem");
    server = await serveRegistry(dir);
    store = await openSqliteRegistry(join(dir, "registry.db"));
  });

  after(async () => {
    await store?.close();
    if (server) await server.stop();
    remove();
  });

  test("prints where it listens and the CA's pin; cacerts is the CA for openssl pkcs7; csrattrs is empty", async () => {
    assert.match(
      server.line,
      /^reid: registry serving https:\/\/127\.0\.0\.1:\d+\/ \(ca pin sha256:[0-9a-f]{64}, crl https:\/\/localhost:\d+\/crl\)$/,
    );
    const answer = await curl(root, `${server.base}/.well-known/est/cacerts`, { ca });
    assert.equal(answer.status, 200);
    assert.match(answer.headers, /content-type: application\/pkcs7-mime/i);
    const printed = pkcs7Certificates(answer.body);
    assert.match(printed, /subject=CN = reid registry/);
    const fingerprint = (pem: string) => openssl(["x509", "-noout", "-fingerprint", "-sha256"], pem).out;
    assert.equal(fingerprint(printed), openssl(["x509", "-in", ca, "-noout", "-fingerprint", "-sha256"]).out);
    const attributes = await curl(root, `${server.base}/.well-known/est/csrattrs`, { ca });
    assert.equal(attributes.status, 204);
  });

  test("a P-256 and an Ed25519 request enroll with a token; openssl verifies what comes back", async () => {
    p256.key = newKey(join(root, "p256.key"), "p256");
    p256.handle = "0123456789abcdef0123456789abcdef";
    const first = await enroll(p256.key, p256.handle);
    p256.pem = first.pem;
    ed.key = newKey(join(root, "ed.key"), "ed25519");
    ed.handle = ed25519Handle(ed.key);
    ed.pem = (await enroll(ed.key, ed.handle)).pem;
    for (const [device, algorithm] of [
      [p256, "id-ecPublicKey"],
      [ed, "ED25519"],
    ] as const) {
      assert.ok(verify(device.pem).ok, verify(device.pem).out);
      const text = openssl(["x509", "-noout", "-text"], device.pem).out;
      assert.match(text, new RegExp(`Subject: CN = ${device.handle}\\n`));
      assert.match(text, new RegExp(`Public Key Algorithm: ${algorithm}`));
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
      assert.match(text, /Extended Key Usage:\s*\n\s+TLS Web Client Authentication\n/);
      assert.match(text, new RegExp(`URI:https://localhost:${server.port}/crl`));
      assert.match(text, /Authority Key Identifier/);
      const stored = await store.device(device.handle);
      assert.equal(stored?.status, "active");
      assert.equal(stored?.certificateSerial, serialOf(device.pem));
      assert.equal((await store.certificate(serialOf(device.pem)))?.status, "valid");
    }
    assert.notEqual((await store.token(hashToken(first.token)))?.usedAt, null, "the token was not spent");
  });

  test("a renewal over mTLS gives a new certificate; openssl's -crl_check then refuses the old one and a revoked device's", async () => {
    const answer = await post(REENROLL, csrBase64(p256.key, p256.handle), [
      ...PKCS10,
      "--cert",
      secretFile(root, "p256.pem", p256.pem),
      "--key",
      p256.key,
    ]);
    assert.equal(answer.status, 200, answer.body.toString());
    p256.renewed = pkcs7Certificates(answer.body);
    assert.notEqual(serialOf(p256.renewed), serialOf(p256.pem));
    assert.ok(verify(p256.renewed).ok);
    const device = await store.device(p256.handle);
    assert.equal(device?.certificateSerial, serialOf(p256.renewed));
    const [event] = (await store.eventsSince(0)).filter((e) => e.type === "renewed");
    assert.deepEqual(event?.data, { serial: serialOf(p256.renewed), previous: serialOf(p256.pem) });

    const crl = await fetchCrl();
    const old = verify(p256.pem, crl);
    assert.equal(old.ok, false, "the superseded certificate passed -crl_check");
    assert.match(old.out, /certificate revoked/);
    assert.ok(verify(p256.renewed, crl).ok, verify(p256.renewed, crl).out);
    assert.ok(verify(ed.pem, crl).ok);
    assert.match(openssl(["crl", "-in", crl, "-noout", "-text"]).out, /Superseded/);

    await store.revoke({ handle: ed.handle, reason: "key-compromise", at: new Date().toISOString() });
    const later = await fetchCrl();
    assert.match(verify(ed.pem, later).out, /certificate revoked/);
    assert.equal(verify(ed.pem, later).ok, false);
    const listed = openssl(["crl", "-in", later, "-noout", "-text"]).out;
    assert.match(listed, /Key Compromise/);
    assert.match(listed, /CRL Number/);
    // `reid registry crl` makes the same list.
    const printed = await reid(["registry", "crl", "--dir", dir]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^-----BEGIN X509 CRL-----\n/);
    const serials = (text: string) =>
      [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]).sort();
    const ours = openssl(["crl", "-noout", "-text"], printed.stdout).out;
    assert.deepEqual(serials(ours), serials(listed));
    assert.equal(serials(ours).length, 2);
  });

  test("enrollment refusals: bad, used, expired and unknown tokens, none, and bad requests change nothing", async () => {
    const key = newKey(join(root, "attacker.key"), "p256");
    const body = csrBase64(key, "fedcba9876543210fedcba9876543210");
    const token = await newToken(dir);
    const basic = (secret: string) => [...PKCS10, "-u", `mallory:${secret}`];

    assertRefusal(await unchangedBy(() => post(ENROLL, body, PKCS10), token), 401, /Basic credentials/);
    const guesses = [token.slice(0, -1), "x".repeat(43), ""];
    for (const guess of guesses) {
      assertRefusal(await unchangedBy(() => post(ENROLL, body, basic(guess)), token), 401, /token/);
    }
    // Used: a token that enrolled a device once is refused the second time.
    const used = await newToken(dir);
    const spender = newKey(join(root, "spender.key"), "p256");
    const first = await post(ENROLL, csrBase64(spender, "22222222222222222222222222222222"), basic(used));
    assert.equal(first.status, 200);
    assertRefusal(
      await unchangedBy(() => post(ENROLL, body, basic(used))),
      401,
      /unknown, already used or expired/,
    );
    const expired = "expired-token-of-the-test-0123456789abcdefg";
    const now = Date.now();
    await store.createToken({
      hash: hashToken(expired),
      label: "expired",
      createdAt: new Date(now - 7_200_000).toISOString(),
      expiresAt: new Date(now - 3_600_000).toISOString(),
    });
    assertRefusal(await unchangedBy(() => post(ENROLL, body, basic(expired)), expired), 401);
    assert.equal(await store.device("fedcba9876543210fedcba9876543210"), null);

    // A request whose signature fails: one byte of the signature flipped.
    const der = Buffer.from(body, "base64");
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
    assertRefusal(
      await unchangedBy(() => post(ENROLL, der.toString("base64"), basic(token)), token),
      400,
      /signature does not verify/,
    );
    // An Ed25519 request naming someone else's handle.
    const thief = newKey(join(root, "thief.key"), "ed25519");
    assertRefusal(
      await unchangedBy(() => post(ENROLL, csrBase64(thief, ed25519Handle(ed.key)), basic(token)), token),
      403,
      /not the handle of the request's Ed25519 key/,
    );
    const other = newKey(join(root, "other.key"), "ed25519");
    assertRefusal(
      await unchangedBy(() => post(ENROLL, csrBase64(thief, ed25519Handle(other)), basic(token)), token),
      403,
    );
    // A handle enrolled already (the P-256 device's), with a good token.
    assertRefusal(
      await unchangedBy(() => post(ENROLL, csrBase64(key, p256.handle), basic(token)), token),
      409,
      /already in the registry/,
    );
    // A key that is neither Ed25519 nor P-256, a CN that is no handle.
    const rsa = newKey(join(root, "rsa.key"), "rsa");
    assertRefusal(
      await unchangedBy(
        () => post(ENROLL, csrBase64(rsa, "33333333333333333333333333333333"), basic(token)),
        token,
      ),
      400,
      /neither Ed25519 nor P-256/,
    );
    assertRefusal(
      await unchangedBy(() => post(ENROLL, csrBase64(key, "sensor-7"), basic(token)), token),
      400,
      /one CN/,
    );
    // Malformed, oversized and mistyped bodies.
    const malformed: [string | Buffer, readonly string[], number, RegExp][] = [
      ["not base64 at all!", basic(token), 400, /not base64/],
      [Buffer.from("hello, registry").toString("base64"), basic(token), 400, /not a PKCS#10/],
      ["", basic(token), 400, /not base64/],
      [Buffer.alloc(20_000, 0x41), basic(token), 413, /larger than 16384 bytes/],
      [body, ["-u", `any:${token}`, "-H", "Content-Type: application/json"], 415, /application\/pkcs10/],
      [body, ["-u", `any:${token}`], 415, /application\/pkcs10/],
    ];
    for (const [sent, args, status, pattern] of malformed) {
      assertRefusal(await unchangedBy(() => post(ENROLL, sent, args), token), status, pattern);
    }
    // Through all of it the token stayed good: it still enrolls.
    const good = await post(ENROLL, body, basic(token));
    assert.equal(good.status, 200, good.body.toString());
  });

  test("renewal refusals: no certificate, a superseded or revoked one, another CA's, another key", async () => {
    const renewal = (cert: string, key: string, csr = csrBase64(key, p256.handle)) =>
      post(REENROLL, csr, [
        ...PKCS10,
        "--cert",
        secretFile(root, `c-${Math.random()}.pem`, cert),
        "--key",
        key,
      ]);
    assertRefusal(
      await unchangedBy(() => post(REENROLL, csrBase64(p256.key, p256.handle), PKCS10)),
      401,
      /client certificate/,
    );
    // The certificate the renewal above superseded.
    assertRefusal(await unchangedBy(() => renewal(p256.pem, p256.key)), 403, /no longer/);
    // The revoked Ed25519 device's own certificate.
    assertRefusal(
      await unchangedBy(() => renewal(ed.pem, ed.key, csrBase64(ed.key, ed.handle))),
      403,
      /no longer/,
    );
    // A certificate for the same handle and key from another CA, made with openssl.
    const otherCa = newKey(join(root, "other-ca.key"), "p256");
    const otherCaPem = join(root, "other-ca.pem");
    assert.ok(
      openssl([
        "req",
        "-x509",
        "-new",
        "-key",
        otherCa,
        "-subj",
        "/CN=not the registry",
        "-days",
        "2",
        "-out",
        otherCaPem,
      ]).ok,
    );
    const csrFile = secretFile(root, "forged.csr", Buffer.from(csrBase64(p256.key, p256.handle), "base64"));
    const forged = openssl([
      "x509",
      "-req",
      "-inform",
      "DER",
      "-in",
      csrFile,
      "-CA",
      otherCaPem,
      "-CAkey",
      otherCa,
      "-days",
      "2",
      "-set_serial",
      `0x${serialOf(p256.renewed)}`,
    ]);
    assert.ok(forged.ok, forged.out);
    assertRefusal(
      await unchangedBy(() => renewal(forged.out, p256.key)),
      401,
      /not one this registry issued/,
    );
    // The current certificate, but a request for another key.
    const swapped = newKey(join(root, "swapped.key"), "p256");
    assertRefusal(
      await unchangedBy(() => renewal(p256.renewed, p256.key, csrBase64(swapped, p256.handle))),
      403,
      /keeps the device's handle and key/,
    );
    assertRefusal(
      await unchangedBy(() =>
        renewal(p256.renewed, p256.key, csrBase64(p256.key, "44444444444444444444444444444444")),
      ),
      403,
    );
  });

  test("an unknown path is a 404 line; the CLI refuses a bad --listen and a port in use", async () => {
    assertRefusal(await curl(root, `${server.base}/v0/devices`, { ca }), 404, /no such endpoint/);
    assertOneLineError(
      await reid(["registry", "serve", "--dir", dir, "--listen", "nowhere"]),
      2,
      /bad --listen/,
    );
    assertOneLineError(await reid(["registry", "serve", "--dir", dir, "--listen", "127.0.0.1:70000"]), 2);
    const busy = await reid([
      "registry",
      "serve",
      "--dir",
      dir,
      "--listen",
      `127.0.0.1:${server.port}`,
      "--json",
    ]);
    assertOneLineError(busy, 2, /port is in use/);
    assert.match(busy.stderr, /"code":"listen-failed"/);
  });

  test("--certify-threads: 0 certifies on the serving thread, 1 on a thread of its own, each enrolls; a bad count is one line", async () => {
    for (const bad of ["-1", "x", "65", "1.5", ""]) {
      assertOneLineError(
        await reid([
          "registry",
          "serve",
          "--dir",
          dir,
          "--listen",
          "127.0.0.1:0",
          `--certify-threads=${bad}`,
        ]),
        2,
        /bad --certify-threads/,
      );
    }
    await server.stop();
    const threads: number[] = [];
    for (const count of ["0", "1"]) {
      server = await serveRegistry(dir, ["--certify-threads", count]);
      const key = newKey(join(root, `threads-${count}.key`), "p256");
      const handle = `${count.repeat(2)}23456789abcdef0123456789abcdef`;
      assert.ok(verify((await enroll(key, handle)).pem).ok);
      // The same work on both, so the same threads of node's own: one more is the certifying one.
      threads.push(readdirSync(`/proc/${server.pid}/task`).length);
      await server.stop();
    }
    assert.ok((threads[1] as number) > (threads[0] as number), `threads: ${threads.join(", ")}`);
    server = await serveRegistry(dir);
  });

  test("SIGTERM ends it cleanly: exit 0, and the database opens again", async () => {
    const ended = await server.stop();
    assert.equal(ended.code, 0, ended.stderr.toString());
    assert.equal(ended.stderr.toString(), "");
    server = await serveRegistry(dir);
    const answer = await curl(root, `${server.base}/.well-known/est/cacerts`, { ca });
    assert.equal(answer.status, 200);
  });
});
