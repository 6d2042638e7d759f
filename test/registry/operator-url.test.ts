// The operator's commands with --url (docs/spec.md §10.6, §10.10): the built CLI asking a running
// `reid registry serve` over HTTPS, its CA pinned by file or fingerprint and the operator token read
// from a 0600 file, prints byte for byte what the same command prints with --dir on the same
// registry (a fleet over a page long, a succession chain, events); token create, revoke, crl and
// events --follow over the wire; and each refusal (both places or neither, a wrong or missing
// token, a wrong pin, nobody listening) one line with its exit, nothing written.
import assert from "node:assert/strict";
import { chmodSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashToken } from "../../src/registry/tokens.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { newToken, openssl, type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import { secretFile } from "../helpers/temp.js";
import {
  type Authority,
  bulkEnroll,
  databaseRows,
  follower,
  type Identity,
  makeRegistry,
  openStore,
  registryAuthority,
  removeRegistry,
  time,
} from "./fleet-fixture.js";

describe("reid registry … --url: the operator's commands against a running registry", () => {
  let dir = "";
  let root = "";
  let server: ServedRegistry;
  let authority: Authority;
  let remote: string[] = [];
  let pinned: string[] = [];
  let tokenFile = "";
  const chain: Identity[] = [];
  let fleet: { all: string[]; revoked: string[] } = { all: [], revoked: [] };

  before(async () => {
    dir = await makeRegistry();
    root = dirname(dir);
    authority = await registryAuthority(dir);
    // Over a page of devices (1,000), some revoked, and a chain of three.
    fleet = await bulkEnroll(dir, authority, 1003, (i) => i % 97 === 0);
    const store = await openStore(dir);
    try {
      for (let i = 0; i < 3; i++) {
        const identity = await authority.issue(time(5000 + i));
        const predecessor = chain[i - 1]?.handle;
        if (predecessor) await store.succeed({ ...identity, predecessor, at: time(5000 + i) });
        else await store.enroll({ ...identity, at: time(5000) });
        chain.push(identity);
      }
    } finally {
      await store.close();
    }
    server = await serveRegistry(dir);
    tokenFile = secretFile(root, "operator.token", readFileSync(join(dir, "operator.token")));
    remote = ["--url", server.base, "--ca", join(dir, "ca.pem"), "--token-file", tokenFile];
    const pin = (JSON.parse(readFileSync(join(dir, "registry.json"), "utf8")) as { caFingerprint: string })
      .caFingerprint;
    pinned = ["--url", `127.0.0.1:${server.port}`, "--ca-fingerprint", pin, "--token-file", tokenFile];
  });

  after(async () => {
    if (server) {
      const stopped = await server.stop();
      assert.deepEqual([stopped.code, stopped.stderr.toString()], [0, ""]);
    }
    removeRegistry(dir);
  });

  test("devices, show and events print the same bytes with --dir and with --url", async () => {
    const middle = chain[1]?.handle as string;
    const commands: string[][] = [
      ["devices"],
      ["devices", "--json"],
      ["devices", "--status", "revoked"],
      ["devices", "--status", "superseded", "--json"],
      ["show", middle],
      ["show", middle, "--json"],
      ["show", fleet.revoked[0] as string],
      ["events"],
      ["events", "--json", "--since", "990"],
    ];
    const runs = await Promise.all(
      commands.flatMap((command, i) => [
        reidOk(["registry", ...command, "--dir", dir]),
        reidOk(["registry", ...command, ...(i % 2 === 0 ? remote : pinned)]),
      ]),
    );
    for (const [i, command] of commands.entries()) {
      const [local, served] = [runs[2 * i], runs[2 * i + 1]];
      assert.ok(local && served);
      assert.ok(local.stdout.length > 0, `${command.join(" ")} printed nothing`);
      assert.equal(served.stdout, local.stdout, `${command.join(" ")}: --url printed otherwise`);
      assert.equal(served.stderr, "");
    }
    // The listing went over more than one page, and the pages joined without a gap or a repeat.
    const listed = runs[3]?.stdout.trim().split("\n") ?? [];
    assert.equal(listed.length, fleet.all.length + chain.length);
  });

  test("token create, revoke and crl over --url", async () => {
    const [made, text] = await Promise.all([
      reidJson<{ token: string; label: string | null; expiresAt: string }>([
        "registry",
        "token",
        "create",
        "--label",
        "bench 3",
        "--ttl",
        "10m",
        ...remote,
      ]),
      reidOk(["registry", "token", "create", ...pinned]),
    ]);
    assert.match(made.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(made.label, "bench 3");
    assert.match(text.stdout, /^token {3}[A-Za-z0-9_-]{43}\nexpires \S+ \(single use\)\n$/);
    const store = await openStore(dir);
    try {
      assert.equal((await store.token(hashToken(made.token)))?.label, "bench 3");
    } finally {
      await store.close();
    }

    const target = fleet.all.find((handle) => !fleet.revoked.includes(handle)) as string;
    const revoked = await reidOk(["registry", "revoke", target, "--reason", "keyCompromise", ...remote]);
    assert.match(
      revoked.stdout,
      new RegExp(
        `^revoked ${target}\\nserial  [0-9a-f]+\\nreason  keyCompromise\\nat      \\S+\\nevent   \\d+\\n$`,
      ),
    );
    const again = await reid([
      "registry",
      "revoke",
      target,
      "--reason",
      "keyCompromise",
      ...pinned,
      "--json",
    ]);
    assertOneLineError(again, 3, /is revoked, not active/);
    assert.equal(JSON.parse(again.stderr).error.code, "device-not-active");

    const crl = await reidOk(["registry", "crl", "--url", server.base, "--ca", join(dir, "ca.pem")]);
    assert.match(crl.stdout, /^-----BEGIN X509 CRL-----\n/);
    const read = openssl(["crl", "-noout", "-text", "-CAfile", join(dir, "ca.pem")], crl.stdout);
    assert.ok(read.ok, read.out);
    assert.match(read.out, /verify OK/);
    const listedSerial = /serial {2}([0-9a-f]+)/.exec(revoked.stdout)?.[1]?.toUpperCase() as string;
    assert.ok(read.out.toUpperCase().includes(listedSerial), "the CRL does not list the revocation");
  });

  test("events --follow --url prints another process's revocation, until SIGTERM (exit 0)", async () => {
    const store = await openStore(dir);
    const last = await store.lastEventSequence();
    await store.close();
    const follow = follower([
      "registry",
      "events",
      "--follow",
      "--since",
      String(last - 1),
      "--json",
      ...remote,
    ]);
    try {
      await follow.lines(1);
      const target = chain[2]?.handle as string;
      await reidOk(["registry", "revoke", target, "--reason", "unspecified", "--dir", dir]);
      const lines = await follow.lines(2);
      const event = JSON.parse(lines[1] as string) as { type: string; handle: string; sequence: number };
      assert.deepEqual([event.type, event.handle, event.sequence], ["revoked", target, last + 1]);
      const end = await follow.stop("SIGTERM");
      assert.deepEqual([end.code, end.stderr], [0, ""]);
    } finally {
      follow.kill();
    }
  });

  test("refusals: one line, their exit and code, nothing written", async () => {
    const enrollment = secretFile(root, "enrollment.token", `${await newToken(dir)}\n`);
    const wrong = secretFile(root, "wrong.token", `${"A".repeat(43)}\n`);
    const open = join(root, "open.token");
    secretFile(root, "open.token", readFileSync(tokenFile));
    chmodSync(open, 0o644);
    const rows = databaseRows(dir);
    const nobody = await freePort();
    const otherPin = `sha256:${"ab".repeat(32)}`;
    const handle = chain[0]?.handle as string;
    const url = ["--url", server.base, "--ca", join(dir, "ca.pem")];
    const cases: [string[], number, string, RegExp][] = [
      [["devices", "--dir", dir, ...remote], 2, "usage", /needs --dir DIR or --url URL \(one of them\)/],
      [["devices"], 2, "usage", /needs --dir DIR or --url URL/],
      [["devices", "--dir", dir, "--token-file", tokenFile], 2, "usage", /'--token-file' goes with --url/],
      [["devices", ...url], 2, "usage", /--token-file FILE/],
      [
        ["devices", "--url", server.base, "--token-file", tokenFile],
        2,
        "usage",
        /--ca FILE or --ca-fingerprint/,
      ],
      [["devices", ...url, "--token-file", open], 2, "bad-key-file", /chmod 600/],
      [
        ["devices", ...url, "--token-file", wrong],
        4,
        "operator-refused",
        /not this registry's operator token/,
      ],
      [
        ["events", ...url, "--token-file", enrollment],
        4,
        "operator-refused",
        /not this registry's operator token/,
      ],
      [
        ["show", handle, "--url", server.base, "--ca-fingerprint", otherPin, "--token-file", tokenFile],
        4,
        "registry-untrusted",
        /not the one pinned/,
      ],
      [
        [
          "devices",
          "--url",
          `https://127.0.0.1:${nobody}`,
          "--ca",
          join(dir, "ca.pem"),
          "--token-file",
          tokenFile,
        ],
        7,
        "registry-unreachable",
        /cannot reach the registry/,
      ],
      [["show", "0".repeat(32), ...remote], 3, "unknown-device", /no device 0{32} in the registry/],
      [
        ["revoke", chain[0]?.handle as string, "--reason", "unspecified", ...remote],
        3,
        "device-not-active",
        /is superseded, not active/,
      ],
      [
        ["devices", "--url", "http://127.0.0.1:1", "--ca", join(dir, "ca.pem"), "--token-file", tokenFile],
        2,
        "usage",
        /must be https/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => reid(["registry", ...args, "--json"])));
    for (const [i, [args, exit, code, message]] of cases.entries()) {
      const result = results[i];
      assert.ok(result);
      try {
        assertOneLineError(result, exit, message);
        assert.equal(JSON.parse(result.stderr).error.code, code);
      } catch (error) {
        assert.fail(`${args.join(" ")}: ${(error as Error).message}`);
      }
      // The operator's token never shows.
      assert.ok(!result.stderr.includes(readFileSync(tokenFile, "utf8").trim()));
    }
    assert.deepEqual(databaseRows(dir), rows);
  });
});

/** A port nobody listens on: one the system just gave and took back. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
