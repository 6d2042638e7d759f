// `reid registry init` and `reid registry token create` (docs/spec.md §10.2, §10.5, §10.6), run as
// the built CLI and judged by openssl: the server certificate verifies against the CA and names
// the hosts, the CA is a CA, files are 0600 in a 0700 directory, no secret is printed or stored in
// clear, a directory that holds anything is refused untouched, and a token is spent once.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import { hashToken } from "../../src/registry/tokens.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const REGISTRY_FILE_NAMES = [
  "ca.key",
  "ca.pem",
  "operator.token",
  "registry.db",
  "registry.json",
  "server.key",
  "server.pem",
  "statements.key",
];

interface Made {
  readonly directory: string;
  readonly caFingerprint: string;
  readonly caCertificate: string;
  readonly serverCertificate: string;
  readonly operatorTokenFile: string;
  readonly logKey: string;
}

function openssl(args: readonly string[]): { ok: boolean; out: string } {
  const result = spawnSync("openssl", args, { encoding: "utf8" });
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` };
}

/** Whether openssl accepts `server` as issued by `ca`. */
function verifies(ca: string, server: string): boolean {
  return openssl(["verify", "-CAfile", ca, server]).ok;
}

/** What openssl says is wrong with `pem` as a CA certificate: empty when it is a CA. */
function notACa(pem: string): string[] {
  const text = openssl(["x509", "-in", pem, "-noout", "-text"]).out;
  const faults: string[] = [];
  if (!/X509v3 Basic Constraints: critical\s+CA:TRUE/.test(text)) faults.push("not CA:TRUE (critical)");
  if (!/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\s*\n/.test(text)) {
    faults.push("key usage is not keyCertSign and cRLSign (critical)");
  }
  return faults;
}

/** The subject alternative names openssl reads in `pem`. */
function alternativeNames(pem: string): string {
  const text = openssl(["x509", "-in", pem, "-noout", "-text"]).out;
  return /X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/.exec(text)?.[1]?.trim() ?? "";
}

/** Entries of `directory` (and itself) whose mode is not 0600 for files and 0700 for directories. */
function openModes(directory: string): string[] {
  const found: string[] = [];
  if ((statSync(directory).mode & 0o777) !== 0o700) found.push(directory);
  for (const entry of readdirSync(directory)) {
    const stat = statSync(join(directory, entry));
    if ((stat.mode & 0o777) !== (stat.isDirectory() ? 0o700 : 0o600)) found.push(entry);
  }
  return found;
}

function listing(directory: string): string[] {
  return readdirSync(directory).sort();
}

describe("reid registry init", () => {
  test("makes a CA that is a CA, a server certificate openssl verifies for the hosts, all private", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const made = await reidJson<Made>([
      "registry",
      "init",
      "--dir",
      join(dir, "fleet"),
      "--name",
      "Fleet, Inc. registry",
      "--host",
      "Registry.Example",
      "--host",
      "10.0.0.5",
      "--host",
      "::1",
    ]);
    assert.equal(made.directory, join(dir, "fleet"));
    assert.deepEqual(listing(made.directory), REGISTRY_FILE_NAMES);
    assert.ok(
      verifies(made.caCertificate, made.serverCertificate),
      "openssl verify refused the server certificate",
    );
    assert.equal(
      alternativeNames(made.serverCertificate),
      "DNS:registry.example, IP Address:10.0.0.5, IP Address:0:0:0:0:0:0:0:1",
    );
    assert.deepEqual(notACa(made.caCertificate), []);
    const subject = openssl([
      "x509",
      "-in",
      made.caCertificate,
      "-noout",
      "-subject",
      "-nameopt",
      "RFC2253",
    ]).out;
    assert.equal(subject.trim(), "subject=CN=Fleet\\, Inc. registry");
    // The pin is the SHA-256 of the CA certificate as openssl computes it.
    const fingerprint = openssl(["x509", "-in", made.caCertificate, "-noout", "-fingerprint", "-sha256"]).out;
    const hex = /=([0-9A-F:]+)/.exec(fingerprint)?.[1]?.replaceAll(":", "").toLowerCase();
    assert.equal(made.caFingerprint, `sha256:${hex}`);
    assert.deepEqual(openModes(made.directory), []);
    // Each private key is a key openssl reads: P-256 for the CA and the server, Ed25519 for statements.
    const keyType = (file: string) =>
      openssl(["pkey", "-in", join(made.directory, file), "-noout", "-text"]).out;
    assert.match(keyType("ca.key"), /ASN1 OID: prime256v1/);
    assert.match(keyType("server.key"), /ASN1 OID: prime256v1/);
    assert.match(keyType("statements.key"), /ED25519 Private-Key/);
    // The log's verifier key: its name the CA's, its key the statement key's as openssl reads it.
    const raw = spawnSync("openssl", [
      "pkey",
      "-in",
      join(made.directory, "statements.key"),
      "-pubout",
      "-outform",
      "DER",
    ]).stdout.subarray(-32);
    const name = `reid-registry/${hex?.slice(0, 16)}`;
    const [logName, keyId, key] = made.logKey.split("+", 2).concat(made.logKey.split("+").slice(2).join("+"));
    assert.deepEqual([logName, key], [name, Buffer.concat([Buffer.of(1), raw]).toString("base64")]);
    const id = spawnSync("openssl", ["dgst", "-sha256", "-binary"], {
      input: Buffer.concat([Buffer.from(`${name}\n\x01`, "latin1"), raw]),
    }).stdout.subarray(0, 4);
    assert.equal(keyId, id.toString("hex"));
  });

  test("the checkers refuse what is wrong: a foreign CA, a leaf as CA, other hosts, an open file", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const one = await reidJson<Made>(["registry", "init", "--dir", join(dir, "one")]);
    const two = await reidJson<Made>(["registry", "init", "--dir", join(dir, "two")]);
    assert.equal(verifies(two.caCertificate, one.serverCertificate), false);
    assert.deepEqual(notACa(one.serverCertificate), [
      "not CA:TRUE (critical)",
      "key usage is not keyCertSign and cRLSign (critical)",
    ]);
    assert.equal(alternativeNames(one.serverCertificate), "DNS:localhost, IP Address:127.0.0.1");
    assert.notEqual(one.caFingerprint, two.caFingerprint);
    chmodSync(join(one.directory, "ca.key"), 0o644);
    chmodSync(one.directory, 0o750);
    assert.deepEqual(openModes(one.directory), [one.directory, "ca.key"]);
  });

  test("prints paths and the pin, never a secret; the database holds the operator token's hash only", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const directory = join(dir, "fleet");
    const { stdout, stderr } = await reidOk(["registry", "init", "--dir", directory]);
    const operator = readFileSync(join(directory, "operator.token"), "utf8").trim();
    assert.match(operator, /^[A-Za-z0-9_-]{43}$/);
    assert.match(stdout, /^ca pin +--ca-fingerprint sha256:[0-9a-f]{64}$/m);
    assert.match(stdout, new RegExp(`^operator +${directory}/operator.token`, "m"));
    assert.match(stdout, /^log key +reid-registry\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/m);
    assert.equal(stderr, "");
    for (const file of ["ca.key", "server.key", "statements.key"]) {
      const pem = readFileSync(join(directory, file), "utf8");
      const body = pem.split("\n")[1] as string;
      assert.ok(!stdout.includes(body), `${file} is printed`);
    }
    assert.ok(!stdout.includes(operator), "the operator token is printed");
    const database = readFileSync(join(directory, "registry.db"));
    // The scan finds what is there (the hash) and not what must not be (the token).
    assert.ok(
      containsBytes(database, hashToken(operator)),
      "the operator token's hash is not in the database",
    );
    assert.ok(
      !containsBytes(database, Buffer.from(operator)),
      "the operator token is in the database in clear",
    );
    const store = await openSqliteRegistry(join(directory, "registry.db"));
    t.after(() => store.close());
    assert.equal(await store.isOperatorToken(hashToken(operator)), true);
  });

  test("an existing empty directory is used; one that holds anything, or a file, is refused untouched", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const empty = join(dir, "empty");
    mkdirSync(empty, { mode: 0o700 });
    await reidOk(["registry", "init", "--dir", empty]);
    assert.deepEqual(listing(empty), REGISTRY_FILE_NAMES);

    const full = join(dir, "full");
    mkdirSync(full, { mode: 0o755 });
    writeFileSync(join(full, "notes.txt"), "mine\n");
    const refused = await reid(["registry", "init", "--dir", full]);
    assertOneLineError(refused, 3, /full is not empty: a registry is made in a new or empty directory/);
    assert.deepEqual(listing(full), ["notes.txt"]);
    assert.equal(readFileSync(join(full, "notes.txt"), "utf8"), "mine\n");
    assert.equal(statSync(full).mode & 0o777, 0o755);

    const again = await reid(["registry", "init", "--dir", empty, "--json"]);
    assertOneLineError(again, 3);
    assert.equal(JSON.parse(again.stderr).error.code, "registry-exists");
    const file = join(dir, "file");
    writeFileSync(file, "x");
    assertOneLineError(await reid(["registry", "init", "--dir", file]), 3, /is not a directory/);
    assert.deepEqual(listing(dir), ["empty", "file", "full"], "a refused init left something behind");
  });

  test("bad input is a usage error and writes nothing", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const target = join(dir, "fleet");
    const cases: [string[], RegExp][] = [
      [["registry", "init"], /needs --dir DIR/],
      [["registry", "init", "--dir", target, "--host", "bad host"], /bad --host 'bad host'/],
      [["registry", "init", "--dir", target, "--host", "a..b"], /bad --host 'a..b'/],
      [["registry", "init", "--dir", target, "--name", "two\nlines"], /bad --name/],
      [["registry", "init", "--dir", target, "--ttl", "1h"], /'--ttl' does not go with 'reid registry init'/],
      [["registry", "start", "--dir", target], /unknown 'reid registry' action 'start'/],
      [["registry", "constructor", "--dir", target], /unknown .reid registry. action .constructor./],
      [["registry", "token", "--dir", target], /unknown 'reid registry' action 'token'/],
      [["registry", "token", "create", "--dir", target, "--host", "x"], /'--host' does not go with/],
    ];
    for (const [args, message] of cases) assertOneLineError(await reid(args), 2, message);
    assert.deepEqual(listing(dir), []);
  });
});

describe("reid registry token create", () => {
  test("prints a token once that is spent once; only its hash is stored", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const directory = join(dir, "fleet");
    await reidOk(["registry", "init", "--dir", directory]);
    const before = Date.now();
    const issued = await reidJson<{ token: string; label: string; expiresAt: string }>([
      "registry",
      "token",
      "create",
      "--dir",
      directory,
      "--ttl",
      "2h",
      "--label",
      "line 4, camera 2",
    ]);
    assert.match(issued.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(issued.label, "line 4, camera 2");
    const lifetime = Date.parse(issued.expiresAt) - before;
    assert.ok(lifetime > 7_100_000 && lifetime <= 7_200_000 + 60_000, `expires in ${lifetime} ms`);
    const text = await reidOk(["registry", "token", "create", "--dir", directory]);
    const second = /^token +([A-Za-z0-9_-]{43})$/m.exec(text.stdout)?.[1] as string;
    assert.ok(second && second !== issued.token);
    const expires = /^expires +(\S+) \(single use\)$/m.exec(text.stdout)?.[1] as string;
    assert.ok(
      Math.abs(Date.parse(expires) - Date.now() - 86_400_000) < 60_000,
      "the default is not 24 hours",
    );

    const database = readFileSync(join(directory, "registry.db"));
    const wal = readFileSync(join(directory, "registry.db-wal"), { flag: "a+" });
    for (const bytes of [database, wal]) assert.ok(!containsBytes(bytes, Buffer.from(issued.token)));
    const store = await openSqliteRegistry(join(directory, "registry.db"));
    t.after(() => store.close());
    const now = new Date().toISOString();
    const spent = await store.consumeToken(hashToken(issued.token), now);
    assert.equal(spent.label, "line 4, camera 2");
    await assert.rejects(store.consumeToken(hashToken(issued.token), now), { code: "token-refused" });
    await assert.rejects(store.consumeToken(hashToken(`${second}x`), now), { code: "token-refused" });
    assert.equal((await store.consumeToken(hashToken(second), now)).label, null);
  });

  test("refuses a bad --ttl or --label, a directory that is no registry, and one open to others", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const directory = join(dir, "fleet");
    await reidOk(["registry", "init", "--dir", directory]);
    for (const ttl of ["0m", "59s", "91d", "1y", "1.5h", "-1h", "24"]) {
      assertOneLineError(
        await reid(["registry", "token", "create", "--dir", directory, `--ttl=${ttl}`]),
        2,
        /bad --ttl/,
      );
    }
    assertOneLineError(
      await reid(["registry", "token", "create", "--dir", directory, "--label", "a\u0007b"]),
      2,
      /bad --label/,
    );
    assertOneLineError(await reid(["registry", "token", "create", "--dir", dir]), 3, /no registry at/);
    assertOneLineError(
      await reid(["registry", "token", "create", "--dir", join(dir, "absent")]),
      3,
      /no registry/,
    );
    chmodSync(directory, 0o755);
    const open = await reid(["registry", "token", "create", "--dir", directory, "--json"]);
    assertOneLineError(open, 6, /chmod 700/);
    assert.equal(JSON.parse(open.stderr).error.code, "registry-permissions");
    chmodSync(directory, 0o700);
    writeFileSync(join(directory, "registry.json"), "{");
    assertOneLineError(await reid(["registry", "token", "create", "--dir", directory]), 6, /is not JSON/);
    // No refused call made a token.
    const raw = new Database(join(directory, "registry.db"), { readonly: true });
    t.after(() => raw.close());
    assert.deepEqual(raw.prepare("SELECT count(*) AS n FROM enrollment_tokens").get(), { n: 0 });
  });
});
