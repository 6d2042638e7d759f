import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { makeRegistry, newToken, registryForSuite, serveRegistry } from "../helpers/registry.js";

/** An element enrolling with a real registry over EST on loopback, as its owner and as an attacker. */
describe("reid enroll", () => {
  const fixture = registryForSuite();
  const store = (name: string) => join(fixture.root, name);
  const tokenFile = (name: string, token: string, mode = 0o600) => {
    const path = join(fixture.root, `${name}.token`);
    writeFileSync(path, `${token}\n`, { mode });
    return path;
  };
  const element = async (name: string) => {
    await reidOk(["--store", store(name), "init"]);
    return (await reidJson<{ handle: string }>(["--store", store(name), "status"])).handle;
  };
  const enroll = (name: string, args: readonly string[]) =>
    reid(["--store", store(name), "enroll", fixture.served.base, ...args]);
  const openssl = (args: readonly string[], input?: string) =>
    spawnSync("openssl", args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });

  test("pinned by fingerprint: the certificate names the handle, chains to the CA, and is kept 0600", async () => {
    const handle = await element("pinned");
    const token = await newToken(fixture.dir);
    const file = tokenFile("pinned", token);
    const result = await enroll("pinned", ["--ca-fingerprint", fixture.pin, "--token-file", file, "--json"]);
    // The token is a secret: read from its file, never echoed nor kept.
    assert.ok(!`${result.stdout}${result.stderr}`.includes(token), "enroll printed the token");
    assert.ok(!readFileSync(join(store("pinned"), "enrollment.json"), "utf8").includes(token));
    assert.equal(result.code, 0, result.stderr);
    const shown = JSON.parse(result.stdout);
    assert.equal(shown.handle, handle);
    assert.equal(shown.registry, fixture.served.base);
    assert.equal(shown.caFingerprint, fixture.pin);
    assert.equal(shown.algorithm, "ed25519");
    assert.equal(shown.certificate, undefined, "the JSON summary does not repeat the PEM");
    assert.equal(statSync(join(store("pinned"), "enrollment.json")).mode & 0o777, 0o600);

    const issued = (await reidOk(["--store", store("pinned"), "cert", "--issued"])).stdout;
    const certificate = join(fixture.root, "pinned.pem");
    writeFileSync(certificate, issued);
    const verified = openssl(["verify", "-CAfile", join(fixture.dir, "ca.pem"), certificate]);
    assert.equal(verified.status, 0, verified.stderr);
    const subject = openssl(["x509", "-in", certificate, "-noout", "-subject", "-serial"]).stdout;
    assert.match(subject, new RegExp(`CN ?= ?${handle}`));
    assert.match(subject.toLowerCase(), new RegExp(`serial=0*${shown.serial}`));

    // The registry follows the same identity, active, with the same certificate.
    const device = await reidJson<{ device: { status: string; certificateSerial: string } }>([
      "registry",
      "show",
      handle,
      "--dir",
      fixture.dir,
    ]);
    assert.equal(device.device.status, "active");
    assert.equal(device.device.certificateSerial, shown.serial);

    const status = await reidJson<{ enrollment: { state: string; serial: string } }>([
      "--store",
      store("pinned"),
      "status",
    ]);
    assert.equal(status.enrollment.state, "current");
    assert.equal(status.enrollment.serial, shown.serial);
  });

  test("pinned by the CA file, with a P-256 key; a reset the registry refuses leaves the enrollment stale", async () => {
    const handle = await element("by-file");
    const file = tokenFile("by-file", await newToken(fixture.dir));
    const ca = join(fixture.dir, "ca.pem");
    await reidOk([
      "--store",
      store("by-file"),
      "enroll",
      fixture.served.base,
      "--ca",
      ca,
      "--token-file",
      file,
      "--alg",
      "p256",
    ]);
    const pem = (await reidOk(["--store", store("by-file"), "cert", "--issued"])).stdout;
    const text = openssl(["x509", "-noout", "-text"], pem).stdout;
    assert.match(text, /id-ecPublicKey|prime256v1/);
    assert.match(text, new RegExp(`CN ?= ?${handle}`));

    const before = (await reidOk(["--store", store("by-file"), "status"])).stdout;
    assert.match(before, /^enrolled +https:\/\/127\.0\.0\.1:\d+, serial [0-9a-f]+, until /m);
    // Revoked by the operator first, the identity cannot be succeeded: the registry refuses the
    // reset's succession (a fork), and the enrollment is stale.
    await reidOk(["registry", "revoke", handle, "--reason", "keyCompromise", "--dir", fixture.dir]);
    await reidOk(["--store", store("by-file"), "reset"]);
    const failed = await reidJson<{ deliveries: { state: string; error: string }[] }>([
      "--store",
      store("by-file"),
      "enroll",
      "--status",
    ]);
    assert.deepEqual(
      failed.deliveries.map((d) => d.state),
      ["failed"],
    );
    assert.match(failed.deliveries[0]?.error ?? "", /revoked, not active/);
    const afterReset = (await reidOk(["--store", store("by-file"), "status"])).stdout;
    assert.match(afterReset, new RegExp(`^enrolled +STALE: .* certifies ${handle}, not this identity`, "m"));
    assertOneLineError(await reid(["--store", store("by-file"), "cert", "--issued"]), 3, /no longer holds/);
  });

  test("a registry that is not the pinned one gets the CA request and nothing else: no token", async () => {
    // An impostor with a certificate of its own that answers EST's cacerts with its own CA.
    const impostor = await makeRegistry();
    const requests: string[] = [];
    let cacerts = "";
    try {
      const real = await serveRegistry(impostor.dir);
      const fetched = spawnSync("curl", ["-sk", `${real.base}/.well-known/est/cacerts`], {
        encoding: "utf8",
      });
      cacerts = fetched.stdout;
      await real.stop();
      const server = createServer(
        {
          key: readFileSync(join(impostor.dir, "server.key")),
          cert: readFileSync(join(impostor.dir, "server.pem")),
        },
        (incoming, answer) => {
          requests.push(`${incoming.method} ${incoming.url} ${incoming.headers.authorization ?? "-"}`);
          answer.writeHead(200, { "content-type": "application/pkcs7-mime; smime-type=certs-only" });
          answer.end(cacerts);
        },
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        await element("fooled");
        const token = await newToken(fixture.dir);
        const file = tokenFile("fooled", token);
        const impostorAt = `https://127.0.0.1:${port}`;
        const fooled = (trust: readonly string[]) =>
          reid(["--store", store("fooled"), "enroll", impostorAt, ...trust, "--token-file", file]);
        assertOneLineError(await fooled(["--ca-fingerprint", fixture.pin]), 4, /not the one pinned/);
        assert.deepEqual(requests, ["GET /.well-known/est/cacerts -"]);
        // With the CA file instead, TLS itself refuses the impostor before any request.
        const byFile = await fooled(["--ca", join(fixture.dir, "ca.pem")]);
        assertOneLineError(byFile, 4, /not the one pinned/);
        assert.equal(requests.length, 1);
        // The token was never shown to anyone: the real registry still takes it.
        await reidOk([
          "--store",
          store("fooled"),
          "enroll",
          fixture.served.base,
          "--ca-fingerprint",
          fixture.pin,
          "--token-file",
          file,
        ]);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      impostor.remove();
    }
  });

  test("refusals: each one line, its own exit, and nothing kept", async () => {
    await element("refused");
    const good = await newToken(fixture.dir);
    const spentFile = tokenFile("spent", await newToken(fixture.dir));
    await element("first");
    await reidOk([
      "--store",
      store("first"),
      "enroll",
      fixture.served.base,
      "--ca-fingerprint",
      fixture.pin,
      "--token-file",
      spentFile,
    ]);

    const cases: [readonly string[], number, RegExp][] = [
      [["--ca-fingerprint", fixture.pin, "--token-file", spentFile], 4, /refused the enrollment token/],
      [
        ["--ca-fingerprint", fixture.pin, "--token-file", tokenFile("short", "abc")],
        2,
        /not an enrollment token/,
      ],
      [
        ["--ca-fingerprint", fixture.pin, "--token-file", tokenFile("open", good, 0o644)],
        2,
        /readable by other users/,
      ],
      [["--ca-fingerprint", "sha256:12", "--token-file", spentFile], 2, /64 hex digits/],
      [["--ca", join(fixture.dir, "ca.pem"), "--ca-fingerprint", fixture.pin], 2, /one of them/],
      [["--token-file", spentFile], 2, /one of them/],
      [["--ca", join(fixture.dir, "registry.json"), "--token-file", spentFile], 2, /no PEM certificate/],
      [["--ca-fingerprint", fixture.pin], 2, /--token-file/],
    ];
    // Independent of each other and of the store's state: run side by side.
    const results = await Promise.all(cases.map(([args]) => enroll("refused", args)));
    results.forEach((result, i) => {
      const [, exit, message] = cases[i] as (typeof cases)[number];
      assertOneLineError(result, exit, message);
    });
    const url = (text: string) =>
      reid([
        "--store",
        store("refused"),
        "enroll",
        text,
        "--ca-fingerprint",
        fixture.pin,
        "--token-file",
        spentFile,
      ]);
    const [http, path, closed] = await Promise.all([
      url(`http://127.0.0.1:${fixture.served.port}`),
      url(`${fixture.served.base}/somewhere`),
      url("https://127.0.0.1:1"),
    ]);
    assertOneLineError(http, 2, /must be https/);
    assertOneLineError(path, 2, /nothing after it/);
    assertOneLineError(closed, 7, /cannot reach the registry/);
    // The same identity twice: the registry knows it already.
    const again = tokenFile("again", await newToken(fixture.dir));
    assertOneLineError(
      await enroll("first", ["--ca-fingerprint", fixture.pin, "--token-file", again]),
      3,
      /refused/,
    );
    // A blank element (a store never initialized) has nothing to enroll.
    mkdirSync(store("blank"), { mode: 0o700 });
    assertOneLineError(
      await reid([
        "--store",
        store("blank"),
        "enroll",
        fixture.served.base,
        "--ca-fingerprint",
        fixture.pin,
        "--token-file",
        again,
      ]),
      3,
    );
    const status = await reidJson<{ enrollment: unknown }>(["--store", store("refused"), "status"]);
    assert.equal(status.enrollment, null, "no refusal left an enrollment behind");
  });
});
