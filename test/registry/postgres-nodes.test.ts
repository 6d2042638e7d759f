// Several stateless registry nodes on one PostgreSQL (docs/spec.md §10.3, §10.6): `registry init
// --db` keeps the URL in registry.json and the schema in PostgreSQL, and two real `reid registry
// serve` processes (dist/reid.js) on that directory serve one fleet. Under concurrent requests to
// both, what SQLite's single writer gave holds through the database: a token sent to both is
// spent once, an identity succeeded on both gets one successor (the other is a refused fork), no
// answered enrollment is missing and no event is passed over by a follower reading the log as it
// grows; a node SIGKILLed in the middle of a load loses nothing it answered.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { certificationRequest } from "../../src/derive/certificate.js";
import { type DerivedKeys, deriveAll } from "../../src/derive/derivation.js";
import { publicKeysOf, signStatement } from "../../src/derive/succession-statement.js";
import { parseCheckpoint } from "../../src/registry/log/checkpoint.js";
import { leafHash } from "../../src/registry/log/hash.js";
import { leafOf } from "../../src/registry/log/leaf.js";
import { openNote, parseVerifierKey } from "../../src/registry/log/note.js";
import { MerkleTree } from "../../src/registry/log/tree.js";
import { openPostgresRegistry } from "../../src/registry/store/postgres/open.js";
import { postgresTarget } from "../../src/registry/store/postgres/url.js";
import type { RegistryEvent, RegistryStore } from "../../src/registry/store/store.js";
import { hashToken } from "../../src/registry/tokens.js";
import { assertOneLineError, reid, reidJson } from "../helpers/cli.js";
import { closedPort } from "../helpers/ports.js";
import { postgresForSuite } from "../helpers/postgres.js";
import { type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import { type RawAnswer, registryAgent, send } from "./https-request.js";

const ENROLL = "/.well-known/est/simpleenroll";

const suite = postgresForSuite();

describe("registry nodes on one PostgreSQL", () => {
  let root = "";
  let dir = "";
  let url = "";
  let copy = "";
  let store: RegistryStore;
  const nodes: ServedRegistry[] = [];
  let agent: ReturnType<typeof registryAgent>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "reid-nodes-"));
    dir = join(root, "registry");
    url = await suite.server.newDatabase();
    await reidJson(["registry", "init", "--dir", dir, "--db", url]);
    // The second node serves a copy of the directory, as a second machine would.
    copy = join(root, "copy");
    cpSync(dir, copy, { recursive: true });
    chmodSync(copy, 0o700);
    nodes.push(await serveRegistry(dir), await serveRegistry(copy));
    store = await openPostgresRegistry(postgresTarget(url));
    agent = registryAgent(readFileSync(join(dir, "ca.pem"), "utf8"), 16);
  });

  after(async () => {
    agent?.destroy();
    await store?.close();
    for (const node of nodes) {
      try {
        await node.stop();
      } catch {
        // Killed already.
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  /** A token the registry will take, made through the store (as `token create` makes one). */
  async function newToken(): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    const now = Date.now();
    await store.createToken({
      hash: hashToken(token),
      label: null,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
    });
    return token;
  }

  const newIdentity = () => deriveAll(new Uint8Array(randomBytes(32)));
  const derData = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, "");

  /** POST simpleenroll of `keys` with `token` to `node`; a node that is gone answers status 0. */
  async function enroll(node: ServedRegistry, keys: DerivedKeys, token: string): Promise<RawAnswer> {
    const csr = derData(await certificationRequest(keys, { algorithm: "ed25519" }));
    const basic = Buffer.from(`any:${token}`).toString("base64");
    return send(node.port, agent, {
      method: "POST",
      path: ENROLL,
      headers: { "content-type": "application/pkcs10", authorization: `Basic ${basic}` },
      body: Buffer.from(csr),
    }).catch(() => ({ status: 0, headers: {}, body: "" }));
  }

  /** POST /v1/succession to `node`: `to` succeeds `from`, the statement naming that node. */
  async function succeed(node: ServedRegistry, from: DerivedKeys, to: DerivedKeys): Promise<RawAnswer> {
    const statement = {
      v: 1 as const,
      type: "succession" as const,
      registry: node.base,
      predecessor: from.handle,
      handle: to.handle,
      publicKeys: publicKeysOf(to),
      generation: 2,
      at: new Date().toISOString(),
    };
    const signed = signStatement(statement, "ed25519", from, to);
    const csr = derData(await certificationRequest(to, { algorithm: "ed25519" }));
    return send(node.port, agent, {
      method: "POST",
      path: "/v1/succession",
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify({ ...signed, csr })),
    });
  }

  test("registry init --db keeps the URL in registry.json and the registry in PostgreSQL, no database file", () => {
    const config = JSON.parse(readFileSync(join(dir, "registry.json"), "utf8"));
    assert.equal(config.version, 1);
    assert.equal(config.database, url);
    assert.equal(existsSync(join(dir, "registry.db")), false);
    for (const node of nodes) assert.match(node.line, /^reid: registry serving https:\/\/127\.0\.0\.1:\d+\//);
  });

  test("a registry.json naming a database with a password, or not PostgreSQL's, is a damaged registry (exit 6)", async () => {
    const damaged = join(root, "damaged");
    cpSync(dir, damaged, { recursive: true });
    chmodSync(damaged, 0o700);
    const config = JSON.parse(readFileSync(join(damaged, "registry.json"), "utf8"));
    for (const database of [`postgres://postgres:hunter2@127.0.0.1/x`, "registry.db", 7]) {
      writeFileSync(join(damaged, "registry.json"), JSON.stringify({ ...config, database }), { mode: 0o600 });
      const listed = await reid(["registry", "devices", "--dir", damaged, "--db", url]);
      assertOneLineError(listed, 6, /registry\.json names no PostgreSQL database/);
      assert.doesNotMatch(listed.stderr, /hunter2/);
    }
  });

  test("a --db URL with a password is refused, exit 2, one line naming ~/.pgpass, nothing made and the password never printed", async () => {
    const target = join(root, "refused");
    const withPassword = `postgres://postgres:hunter2@127.0.0.1:${suite.server.port}/postgres`;
    const made = await reid(["registry", "init", "--dir", target, "--db", withPassword]);
    assertOneLineError(made, 2, /~\/\.pgpass/);
    assert.doesNotMatch(made.stderr, /hunter2/);
    assert.equal(existsSync(target), false);
    const listed = await reid(["registry", "devices", "--dir", dir, "--db", withPassword]);
    assertOneLineError(listed, 2, /password/);
    assert.doesNotMatch(listed.stderr, /hunter2/);
  });

  test("a PostgreSQL out of reach is exit 7 database-unreachable naming HOST:PORT; --db and --db-read do not go with --url, nor --db-read with a write", async () => {
    const port = await closedPort();
    const away = await reid([
      "registry",
      "devices",
      "--dir",
      dir,
      "--db",
      `postgres://reid@127.0.0.1:${port}/x`,
    ]);
    assertOneLineError(away, 7, new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}`));
    const remote = ["--url", nodes[0]?.base as string, "--ca", join(dir, "ca.pem")];
    assertOneLineError(
      await reid(["registry", "devices", ...remote, "--db", url]),
      2,
      /--db' goes with --dir/,
    );
    const revoke = ["registry", "revoke", "0".repeat(32), "--reason", "unspecified", "--dir", dir];
    assertOneLineError(await reid([...revoke, "--db-read", url]), 2, /--db-read/);
  });

  test("the same token sent to both nodes at once enrolls one device", async () => {
    for (let round = 0; round < 8; round++) {
      const token = await newToken();
      const identities = [newIdentity(), newIdentity()];
      const answers = await Promise.all(
        nodes.map((node, i) => enroll(node, identities[i] as DerivedKeys, token)),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status).sort(),
        [200, 401],
        answers.map((a) => a.body).join(" | "),
      );
      const enrolled = await Promise.all(identities.map((keys) => store.device(keys.handle)));
      assert.equal(enrolled.filter((device) => device !== null).length, 1, "a token enrolled two devices");
      assert.equal(answers[enrolled[0] ? 0 : 1]?.status, 200, "the answered one is not the one stored");
      assert.notEqual((await store.token(hashToken(token)))?.usedAt, null);
    }
  });

  test("one identity succeeded on both nodes at once gets one successor; the other is a refused fork, flagged", async () => {
    for (let round = 0; round < 5; round++) {
      const old = newIdentity();
      assert.equal((await enroll(nodes[0] as ServedRegistry, old, await newToken())).status, 200);
      const next = [newIdentity(), newIdentity()];
      const answers = await Promise.all(nodes.map((node, i) => succeed(node, old, next[i] as DerivedKeys)));
      const statuses = answers.map((answer) => answer.status);
      assert.deepEqual([...statuses].sort(), [200, 409], answers.map((a) => a.body).join(" | "));
      const loser = statuses.indexOf(409);
      assert.equal(JSON.parse(answers[loser]?.body ?? "{}").error?.code, "device-not-active");
      const winner = next[1 - loser] as DerivedKeys;
      const was = await store.device(old.handle);
      assert.deepEqual([was?.status, was?.successor], ["superseded", winner.handle]);
      assert.equal((await store.device(winner.handle))?.predecessor, old.handle);
      assert.equal(await store.device((next[loser] as DerivedKeys).handle), null);
      const flags = await store.flags([old.handle], 10);
      assert.deepEqual(
        flags.map((flag) => [flag.type, flag.data.successor]),
        [["fork-refused", (next[loser] as DerivedKeys).handle]],
      );
    }
  });

  test("many enrollments across both nodes at once: every answered one is stored, and a follower of the log misses no event", async () => {
    const start = await store.lastEventSequence();
    const followed: RegistryEvent[] = [];
    let loading = true;
    // Reads the log as it grows, as `registry events --follow` does: after the last sequence it read.
    const follower = (async () => {
      for (;;) {
        const last = loading;
        const page = await store.eventsSince(followed.at(-1)?.sequence ?? start);
        followed.push(...page);
        if (!last && page.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const requests = Array.from({ length: 48 }, async (_, i) => {
      const keys = newIdentity();
      const answer = await enroll(nodes[i % 2] as ServedRegistry, keys, await newToken());
      return { handle: keys.handle, status: answer.status };
    });
    const answered = await Promise.all(requests);
    loading = false;
    await follower;
    assert.ok(
      answered.every((a) => a.status === 200),
      JSON.stringify(answered.map((a) => a.status)),
    );
    const log = await store.eventsSince(start);
    const sequences = log.map((event) => event.sequence);
    assert.ok(
      sequences.every((s, i) => i === 0 || s > (sequences[i - 1] as number)),
      "not increasing",
    );
    for (const { handle } of answered) {
      assert.equal((await store.device(handle))?.status, "active", `answered ${handle} is not stored`);
      assert.ok(
        log.some((event) => event.type === "enrolled" && event.handle === handle),
        `no event of ${handle}`,
      );
    }
    assert.deepEqual(followed, log, "the follower passed over an event");
  });

  /** Who holds the identity log's lease (§10.12): the backends holding its session lock. */
  async function leaseHolders(): Promise<number> {
    const rows = await suite.server.query<{ held: string }>(
      "SELECT count(*)::text AS held FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = 2",
      [0x72656964],
      new URL(url).pathname.slice(1),
    );
    return Number(rows[0]?.held);
  }

  /** The newest checkpoint `node` serves, opened with the registry's key, once it covers `size` leaves. */
  async function checkpointCovering(node: ServedRegistry, size: number) {
    const key = parseVerifierKey(
      (await send(node.port, agent, { method: "GET", path: "/v1/log/key" })).body.trim(),
    );
    for (let tries = 0; ; tries++) {
      const note = (await send(node.port, agent, { method: "GET", path: "/v1/log/checkpoint" })).body;
      const checkpoint = parseCheckpoint(openNote(note, key));
      if (checkpoint.size >= size) return checkpoint;
      assert.ok(tries < 200, `no checkpoint of ${size} leaves in 20 s (newest ${checkpoint.size})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The root of every leaf the database holds, recomputed from the events themselves. */
  async function rootOfAllLeaves(size: number): Promise<Uint8Array> {
    const tree = new MerkleTree();
    for (let start = 0; start < size; start += 1000) {
      for (const event of await store.eventsByLeaf(start, Math.min(size, start + 1000))) {
        tree.append(leafHash(leafOf(event)));
      }
    }
    assert.equal(tree.size, size);
    return tree.root();
  }

  test("one node integrates the identity log at a time; its root is every leaf's, and the other node takes over when it dies", async () => {
    const [holder, other] = nodes as [ServedRegistry, ServedRegistry];
    // The first node started integrating before the second one listened: it holds the lease.
    assert.equal(await leaseHolders(), 1);
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const answer = await enroll(nodes[i % 2] as ServedRegistry, newIdentity(), await newToken());
        assert.equal(answer.status, 200);
      }),
    );
    const size = await store.logSize();
    // Either node serves a checkpoint signed by the registry's key whose root is that of all leaves.
    const checkpoint = await checkpointCovering(other, size);
    assert.deepEqual(
      Buffer.from(checkpoint.root),
      Buffer.from(await rootOfAllLeaves(checkpoint.size)),
      "the checkpoint's root is not the root of the events",
    );
    // The holder dies: its connection and lease go with it, and the other node integrates.
    await holder.kill();
    const late = newIdentity();
    assert.equal((await enroll(other, late, await newToken())).status, 200);
    const after = await store.logSize();
    const taken = await checkpointCovering(other, after);
    assert.deepEqual(Buffer.from(taken.root), Buffer.from(await rootOfAllLeaves(taken.size)));
    assert.equal(await leaseHolders(), 1);
    nodes[0] = await serveRegistry(dir);
  });

  test("a node SIGKILLed in the middle of a load loses nothing it answered; the other node goes on", async () => {
    const [steady, doomed] = nodes as [ServedRegistry, ServedRegistry];
    let answeredByDoomed = 0;
    let killed: Promise<unknown> | null = null;
    const requests = Array.from({ length: 40 }, async (_, i) => {
      const keys = newIdentity();
      const node = i % 2 === 0 ? steady : doomed;
      const answer = await enroll(node, keys, await newToken());
      if (node === doomed && answer.status === 200 && ++answeredByDoomed === 5) killed = doomed.kill();
      return { handle: keys.handle, status: answer.status, node };
    });
    const answered = await Promise.all(requests);
    await killed;
    assert.notEqual(killed, null, "the node was not killed");
    assert.ok(
      answered.some((a) => a.node === doomed && a.status !== 200),
      "the kill cut no request",
    );
    for (const { handle, status } of answered) {
      if (status === 200)
        assert.equal((await store.device(handle))?.status, "active", `answered ${handle} lost`);
      else assert.equal(status, 0, "a request was refused rather than cut");
    }
    // The killed node's connections are gone and hold nothing: the other one enrolls at once.
    const after = newIdentity();
    assert.equal((await enroll(steady, after, await newToken())).status, 200);
    assert.equal((await store.device(after.handle))?.status, "active");
    // Started again with --db naming the database itself, as registry.json does.
    nodes[1] = await serveRegistry(copy, ["--db", url]);
    const restarted = newIdentity();
    assert.equal((await enroll(nodes[1], restarted, await newToken())).status, 200);
  });
});
