// `reid registry import` (docs/spec.md §10.6), run as the built CLI: a factory's list becomes
// devices the rest of the registry reads as enrolled ones (show, devices, events, revoke, the CRL),
// each with a certificate openssl verifies against the CA; a run again skips them; every bad line
// is refused with its number before anything is written; a progress bar only on a terminal.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { assertOneLineError, REID, reid, reidJson, reidOk } from "../helpers/cli.js";
import { deviceListLines } from "../helpers/device-list.js";
import { makeRegistry, openssl, registryTables } from "../helpers/registry.js";
import { onTerminal } from "../helpers/terminal.js";

interface Line {
  readonly handle: string;
  readonly publicKey: string;
  readonly label?: string;
}

const SUMMARY = /^imported and certified (\d+), skipped (\d+), in \d+\.\d s, \d+\/s\n$/;

function listOf(count: number, options = {}): Line[] {
  return [...deviceListLines(count, options)].map((line) => JSON.parse(line) as Line);
}

function write(path: string, lines: readonly (Line | string)[]): string {
  writeFileSync(
    path,
    lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n"),
  );
  return path;
}

function pemOf(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

function spkiPem(base64: string): string {
  return `-----BEGIN PUBLIC KEY-----\n${base64.replace(/.{64}/g, "$&\n")}\n-----END PUBLIC KEY-----\n`;
}

describe("reid registry import", () => {
  let root = "";
  let dir = "";
  let remove = () => {};
  before(async () => {
    ({ root, dir, remove } = await makeRegistry());
  });
  after(() => remove());

  test("--certify records each listed device as an enrollment would; show, devices, events, revoke and the CRL read it; openssl verifies its certificate", async () => {
    const list = listOf(300, { p256Every: 3, labelEvery: 50 });
    const file = write(join(root, "fleet.ndjson"), list);
    // --listen names the port the registry serves on: the certificates' CRL URL is there.
    const result = await reidOk([
      "registry",
      "import",
      "--dir",
      dir,
      file,
      "--batch",
      "100",
      "--certify",
      "--listen",
      "127.0.0.1:9443",
    ]);
    assert.match(result.stdout, SUMMARY);
    assert.deepEqual(SUMMARY.exec(result.stdout)?.slice(1, 3), ["300", "0"]);
    assert.equal(result.stderr, "", "no progress bar when stderr is not a terminal");

    const listed = (await reidOk(["registry", "devices", "--dir", dir, "--json"])).stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { handle: string; status: string });
    assert.deepEqual(
      listed.map((device) => device.handle),
      list.map((line) => line.handle).sort(),
    );
    assert.ok(listed.every((device) => device.status === "active"));

    const events = (await reidOk(["registry", "events", "--dir", dir, "--json"])).stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; handle: string; data: Record<string, unknown> });
    assert.equal(events.length, 300);
    for (const line of list) {
      const event = events.find((candidate) => candidate.handle === line.handle);
      assert.equal(event?.type, "enrolled");
      assert.equal(event?.data.imported, true);
      assert.equal(event?.data.label, line.label);
    }

    const db = new Database(join(dir, "registry.db"), { readonly: true });
    const derOf = (handle: string) =>
      (
        db
          .prepare("select der from certificates join devices using (handle) where handle = ?")
          .get(handle) as { der: Buffer }
      ).der;
    try {
      // An Ed25519 device and a P-256 one (every third).
      for (const line of [list[0], list[2]] as Line[]) {
        const report = await reidJson<{
          device: { status: string; publicKey: string; certificateSerial: string };
          certificate: { status: string };
          chain: unknown[];
        }>(["registry", "show", line.handle, "--dir", dir]);
        assert.equal(report.device.status, "active");
        assert.equal(report.device.publicKey, line.publicKey);
        assert.equal(report.certificate.status, "valid");
        assert.equal(report.chain.length, 1);
        const certificate = join(root, `${line.handle}.pem`);
        writeFileSync(certificate, pemOf(derOf(line.handle)));
        const verified = openssl(["verify", "-CAfile", join(dir, "ca.pem"), certificate]);
        assert.ok(verified.ok, verified.out);
        const text = openssl([
          "x509",
          "-in",
          certificate,
          "-noout",
          "-subject",
          "-ext",
          "crlDistributionPoints",
        ]).out;
        assert.match(text, new RegExp(`CN ?= ?${line.handle}`));
        assert.match(text, /URI:https:\/\/localhost:9443\/crl/);
        // The certificate's key is the listed one.
        const key = openssl(["x509", "-in", certificate, "-noout", "-pubkey"]).out;
        assert.equal(key, openssl(["pkey", "-pubin"], spkiPem(line.publicKey)).out);
      }
      // A certificate from another CA is refused by the same check.
      const foreign = await makeRegistry();
      try {
        const verified = openssl([
          "verify",
          "-CAfile",
          join(foreign.dir, "ca.pem"),
          join(root, `${list[0]?.handle}.pem`),
        ]);
        assert.equal(verified.ok, false);
      } finally {
        foreign.remove();
      }
    } finally {
      db.close();
    }

    // Revoked like any device: its serial is on the CRL.
    const revoked = list[5] as Line;
    const { serial } = await reidJson<{ serial: string }>([
      "registry",
      "revoke",
      revoked.handle,
      "--reason",
      "keyCompromise",
      "--dir",
      dir,
    ]);
    const crl = join(root, "crl.pem");
    writeFileSync(crl, (await reidOk(["registry", "crl", "--dir", dir])).stdout);
    assert.match(openssl(["crl", "-in", crl, "-noout", "-text"]).out.toLowerCase(), new RegExp(serial));

    // Run again: nothing is written, every device counted as skipped.
    const before = registryTables(dir);
    const again = await reidJson<{ imported: number; skipped: number; seconds: number; rate: number }>([
      "registry",
      "import",
      "--dir",
      dir,
      file,
      "--certify",
    ]);
    assert.equal(again.imported, 0);
    assert.equal(again.skipped, 300);
    assert.deepEqual(Object.keys(again).sort(), ["certified", "imported", "rate", "seconds", "skipped"]);
    assert.equal(registryTables(dir), before);
  });

  test("a list from stdin, with more devices than those already in", async () => {
    const list = listOf(40);
    write(join(root, "first.ndjson"), list.slice(0, 25));
    await reidOk(["registry", "import", "--dir", dir, join(root, "first.ndjson")]);
    const child = spawnSync(process.execPath, [REID, "registry", "import", "--dir", dir, "-", "--json"], {
      input: `${list.map((line) => JSON.stringify(line)).join("\n")}\n`,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
    });
    assert.equal(child.status, 0, child.stderr);
    const summary = JSON.parse(child.stdout) as { imported: number; skipped: number };
    assert.deepEqual([summary.imported, summary.skipped], [15, 25]);
  });

  test("every bad line is refused with its number and what is wrong, exit 2, and nothing is written", async () => {
    const [good1, good2, other] = listOf(3, {}) as [Line, Line, Line];
    const p256 = listOf(3, { p256Every: 1 })[0] as Line;
    const spki = Buffer.from(p256.publicKey, "base64");
    const offCurve = Buffer.from(spki);
    offCurve[offCurve.length - 1] = (offCurve.at(-1) as number) ^ 1;
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({
      type: "spki",
      format: "der",
    });
    const cases: [string, string | Line, RegExp][] = [
      ["not JSON", "{handle:", /line 3 of the device list: not JSON$/],
      ["an array", "[1,2]", /line 3 .*: not an object/],
      ["an unknown member", { ...other, serial: "01" } as Line, /line 3 .*: an unknown member "serial"/],
      [
        "an upper-case handle",
        { ...other, handle: other.handle.toUpperCase() },
        /line 3 .*: handle is not 32 lowercase hex/,
      ],
      [
        "a key that is not base64",
        { ...other, publicKey: "not base64!" },
        /line 3 .*: publicKey is not base64/,
      ],
      [
        "an RSA key",
        { ...p256, publicKey: rsa.toString("base64") },
        /line 3 .*: publicKey is not the DER SubjectPublicKeyInfo/,
      ],
      [
        "a P-256 point off the curve",
        { ...p256, publicKey: offCurve.toString("base64") },
        /line 3 .*: publicKey is not/,
      ],
      [
        "a key with bytes after it",
        { ...p256, publicKey: Buffer.concat([spki, Buffer.from([0])]).toString("base64") },
        /line 3 .*: publicKey is not/,
      ],
      [
        "an Ed25519 key under another handle",
        { ...other, handle: "0".repeat(32) },
        /line 3 .*: handle \w+ is not the handle of its Ed25519 key/,
      ],
      [
        "a label with a control character",
        { ...other, label: "bay\u00073" },
        /line 3 .*: label is not 1 to 128 characters/,
      ],
      ["a handle listed twice", good1, new RegExp(`line 3 .*: device ${good1.handle} is also on line 1`)],
      ["an empty line", "", /line 3 .*: an empty line/],
    ];
    // The P-256 point the off-curve case changed was on the curve: that case fails for its change alone.
    const valid = write(join(root, "valid-p256.ndjson"), [p256]);
    assert.equal((await reid(["registry", "import", "--dir", dir, valid])).code, 0);
    const before = registryTables(dir);
    for (const [why, bad, message] of cases) {
      const file = write(join(root, "bad.ndjson"), [good1, good2, bad, listOf(1)[0] as Line]);
      const result = await reid(["registry", "import", "--dir", dir, file]);
      assertOneLineError(result, 2, message);
      assert.equal(registryTables(dir), before, `${why}: the database changed`);
    }
    // Refusals of the command itself.
    const good = write(join(root, "good.ndjson"), [good1]);
    const empty = write(join(root, "empty.ndjson"), []);
    assertOneLineError(await reid(["registry", "import", "--dir", dir, empty]), 2, /holds no device/);
    assertOneLineError(
      await reid(["registry", "import", "--dir", dir, good, "--batch", "0"]),
      2,
      /bad --batch/,
    );
    assertOneLineError(
      await reid(["registry", "import", "--dir", dir, good, "--batch", "10001"]),
      2,
      /bad --batch/,
    );
    // --listen names the CRL in certificates: without --certify there are none.
    assertOneLineError(
      await reid(["registry", "import", "--dir", dir, good, "--listen", "127.0.0.1:9443"]),
      2,
      /--listen .* goes with --certify/,
    );
    assertOneLineError(
      await reid(["registry", "import", "--dir", dir, join(root, "missing")]),
      2,
      /cannot read/,
    );
    assertOneLineError(await reid(["registry", "import", "--dir", dir]), 2, /takes 1 operand/);
    assertOneLineError(await reid(["registry", "import", good]), 2, /needs --dir/);
    assertOneLineError(
      await reid(["registry", "import", "--dir", join(root, "none"), good]),
      3,
      /no registry/,
    );
    assert.equal(registryTables(dir), before);
  });

  test("a listed handle the registry holds with another key is refused, exit 3, before anything is written", async () => {
    const [held] = listOf(1, { p256Every: 1 }) as [Line];
    await reidOk(["registry", "import", "--dir", dir, write(join(root, "held.ndjson"), [held])]);
    const before = registryTables(dir);
    const [otherKey] = listOf(1, { p256Every: 1 }) as [Line];
    const file = write(join(root, "clash.ndjson"), [...listOf(20), { ...otherKey, handle: held.handle }]);
    const result = await reid(["registry", "import", "--dir", dir, file, "--batch", "5"]);
    assertOneLineError(result, 3, new RegExp(`device ${held.handle} is already in the registry`));
    assert.equal(registryTables(dir), before);
  });

  test("on a terminal, a progress bar on stderr: devices done of the total, the rate and the time left", async () => {
    const file = write(join(root, "bar.ndjson"), listOf(3000));
    const run = await onTerminal(
      [process.execPath, REID, "registry", "import", "--dir", dir, file, "--batch", "500"],
      [],
      {},
    );
    assert.equal(run.code, 0, run.screen);
    assert.match(run.screen, /importing \[#{24}\] 3000\/3000 100% {2}\d+\/s {2}ETA \d+ s/);
    // The summary comes last, on a line of its own after the bar's.
    assert.match(
      run.screen,
      /100% {2}\d+\/s {2}ETA \d+ s *\nimported \(listed\) 3000, skipped 0, in \d+\.\d s, \d+\/s\n$/,
    );
  });
});
