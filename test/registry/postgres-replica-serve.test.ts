// `registry serve --db-read` on a real streaming replica (docs/spec.md §10.7): a PostgreSQL primary
// and a hot standby made from it with pg_basebackup -R, both on loopback, and a real `reid registry
// serve` process (dist/reid.js) writing to the one and reading the other. With the replica's replay
// paused, a write through the node is answered at once while its reads still show the replica's
// past (so they come from it), and a write that reads first (a revocation) reads the primary;
// replayed, the node lists what was written, and the identity log it serves (checkpoint, leaves,
// proofs) is one consistent view that verifies. With the replica stopped, reads fail as
// `database-unreachable` (502, naming the replica) and writes go on. SQLite refuses --db-read.
import "reflect-metadata";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import { certificationRequest } from "../../src/derive/certificate.js";
import { deriveAll } from "../../src/derive/derivation.js";
import { type Checkpoint, parseCheckpoint } from "../../src/registry/log/checkpoint.js";
import { leafHash } from "../../src/registry/log/hash.js";
import { openNote, parseVerifierKey } from "../../src/registry/log/note.js";
import { verifyConsistency, verifyInclusion } from "../../src/registry/log/verify.js";
import { assertOneLineError, reid, reidJson } from "../helpers/cli.js";
import { caughtUp, type Postgres, startPostgres } from "../helpers/postgres.js";
import { curl, makeRegistry, type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import { type RawAnswer, registryAgent, send } from "./https-request.js";

describe("registry serve --db-read: writes to the primary, reads from its streaming replica", () => {
  let primary: Postgres;
  let replica: Postgres;
  let root = "";
  let dir = "";
  let onReplica = "";
  let logKey = "";
  let operatorToken = "";
  let node: ServedRegistry;
  let agent: ReturnType<typeof registryAgent>;
  /** The serial of the certificate revoked while the replica's replay was paused. */
  let lateSerial = "";

  before(async () => {
    primary = await startPostgres();
    const onPrimary = await primary.newDatabase();
    replica = await startPostgres(primary);
    onReplica = replica.url(new URL(onPrimary).pathname.slice(1));
    root = mkdtempSync(join(tmpdir(), "reid-replica-serve-"));
    dir = join(root, "registry");
    ({ logKey } = await reidJson<{ logKey: string }>(["registry", "init", "--dir", dir, "--db", onPrimary]));
    await caughtUp(primary, replica);
    node = await serveRegistry(dir, ["--db-read", onReplica]);
    operatorToken = readFileSync(join(dir, "operator.token"), "utf8").trim();
    agent = registryAgent(readFileSync(join(dir, "ca.pem"), "utf8"));
  });

  after(async () => {
    agent?.destroy();
    await node?.stop().catch(() => {});
    await replica?.stop();
    await primary?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const get = (path: string) =>
    send(node.port, agent, { method: "GET", path, headers: { authorization: `Bearer ${operatorToken}` } });
  const post = (path: string, body: unknown) =>
    send(node.port, agent, {
      method: "POST",
      path,
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
      body: Buffer.from(JSON.stringify(body)),
    });
  const json = (answer: RawAnswer) => JSON.parse(answer.body);
  const replay = (what: "pause" | "resume") => replica.query(`SELECT pg_wal_replay_${what}()`);

  /** A new identity enrolled through the node with a token the node made: its handle and leaf. */
  async function enroll(): Promise<{ handle: string; leaf: number }> {
    const created = await post("/v1/tokens", {});
    assert.equal(created.status, 200, created.body);
    const keys = deriveAll(new Uint8Array(randomBytes(32)));
    const csr = (await certificationRequest(keys, { algorithm: "ed25519" })).replace(
      /-----[^-]+-----|\s/g,
      "",
    );
    const basic = Buffer.from(`any:${json(created).token}`).toString("base64");
    const answer = await send(node.port, agent, {
      method: "POST",
      path: "/.well-known/est/simpleenroll",
      headers: { "content-type": "application/pkcs10", authorization: `Basic ${basic}` },
      body: Buffer.from(csr),
    });
    assert.equal(answer.status, 200, answer.body);
    return { handle: keys.handle, leaf: Number(answer.headers["reid-log-index"]) };
  }

  /** The serials the CRL the node serves lists (lowercase hex). */
  async function crlSerials(): Promise<string[]> {
    const answer = await curl(root, `${node.base}/crl`, { ca: join(dir, "ca.pem") });
    assert.equal(answer.status, 200, answer.body.toString());
    return new x509.X509Crl(answer.body).entries.map((entry) => entry.serialNumber.toLowerCase());
  }

  /** The checkpoint the node serves, its signature checked with the log's verifier key. */
  async function servedCheckpoint(): Promise<Checkpoint> {
    const answer = await send(node.port, agent, { method: "GET", path: "/v1/log/checkpoint" });
    assert.equal(answer.status, 200, answer.body);
    return parseCheckpoint(openNote(answer.body, parseVerifierKey(logKey)));
  }

  /** Waits until the node serves a checkpoint of at least `size` leaves. */
  async function checkpointOf(size: number): Promise<Checkpoint> {
    for (let tries = 0; ; tries++) {
      const checkpoint = await servedCheckpoint();
      if (checkpoint.size >= size) return checkpoint;
      assert.ok(tries < 300, `no checkpoint of ${size} leaves in 30 s (newest ${checkpoint.size})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The primary's newest stored checkpoint size. */
  async function primaryCheckpointSize(): Promise<number> {
    const database = new URL(onReplica).pathname.slice(1);
    const [row] = await primary.query<{ size: string | null }>(
      "SELECT max(size)::text AS size FROM log_checkpoints",
      [],
      database,
    );
    return Number(row?.size ?? 0);
  }

  test("with the replica's replay paused, writes are answered at once and reads show the replica's past", async () => {
    const first = await enroll();
    const before = await checkpointOf(first.leaf + 1);
    await caughtUp(primary, replica);
    await replay("pause");
    try {
      const late = await enroll();
      // The write's own reads are the primary's: a revocation of a device the replica never saw.
      const revoked = await post(`/v1/devices/${late.handle}/revoke`, { reason: "keyCompromise" });
      assert.equal(revoked.status, 200, revoked.body);
      lateSerial = json(revoked).serial;
      assert.ok(!(await crlSerials()).includes(lateSerial), "the replica's CRL, without the revocation yet");
      // The reads are the replica's: it has not replayed the enrollment.
      const shown = await get(`/v1/devices/${late.handle}`);
      assert.equal(shown.status, 404, shown.body);
      assert.equal(json(shown).error.code, "unknown-device");
      assert.equal((await get(`/v1/devices/${first.handle}`)).status, 200);
      const events = json(await get("/v1/events?since=0")).events as { handle: string }[];
      assert.ok(events.some((event) => event.handle === first.handle));
      assert.ok(!events.some((event) => event.handle === late.handle));
      // The log's integrator writes the primary, which moves on; the node serves the replica's checkpoint.
      for (let tries = 0; (await primaryCheckpointSize()) <= late.leaf + 1; tries++) {
        assert.ok(tries < 300, "the primary's log did not take the new leaves in 30 s");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const served = await servedCheckpoint();
      assert.equal(served.size, before.size, "a lagging replica's checkpoint, not the primary's");
      const beyond = await send(node.port, agent, {
        method: "GET",
        path: `/v1/log/proof/inclusion?index=${late.leaf}&size=${late.leaf + 1}`,
      });
      assert.equal(beyond.status, 400, beyond.body);
      assert.equal(json(beyond).error.code, "beyond-log");
      // Every leaf the served checkpoint covers is there to read, and its proof verifies.
      const leaves = await send(node.port, agent, {
        method: "GET",
        path: `/v1/log/leaves?start=0&end=${served.size}`,
      });
      assert.equal(json(leaves).leaves.length, served.size);
    } finally {
      await replay("resume");
    }
  });

  test("replayed, the node lists what was written, and its log's checkpoint, leaves and proofs verify", async () => {
    const old = await servedCheckpoint();
    const { handle, leaf } = await enroll();
    await caughtUp(primary, replica);
    const shown = await get(`/v1/devices/${handle}`);
    assert.equal(shown.status, 200, shown.body);
    assert.equal(json(shown).device.status, "active");
    const revokedListed = json(await get("/v1/devices?status=revoked")).devices as unknown[];
    assert.equal(revokedListed.length, 1, "the revocation made while the replica was paused");
    assert.ok((await crlSerials()).includes(lateSerial), "replayed, the CRL lists it");

    const checkpoint = await checkpointOf(leaf + 1);
    const leaves = json(
      await send(node.port, agent, { method: "GET", path: `/v1/log/leaves?start=${leaf}&end=${leaf + 1}` }),
    ).leaves as string[];
    const hash = leafHash(Buffer.from(leaves[0] as string, "base64"));
    assert.ok(JSON.parse(Buffer.from(leaves[0] as string, "base64").toString("utf8")).handle === handle);
    const proof = json(
      await send(node.port, agent, {
        method: "GET",
        path: `/v1/log/proof/inclusion?index=${leaf}&size=${checkpoint.size}`,
      }),
    ).hashes as string[];
    const hashes = proof.map((text) => Buffer.from(text, "base64"));
    verifyInclusion(hash, leaf, checkpoint.size, hashes, checkpoint.root);
    // A proof of another leaf, or against another root, is refused: the check above can fail.
    assert.throws(() =>
      verifyInclusion(leafHash(Buffer.from("forged")), leaf, checkpoint.size, hashes, checkpoint.root),
    );
    const consistency = json(
      await send(node.port, agent, {
        method: "GET",
        path: `/v1/log/proof/consistency?from=${old.size}&to=${checkpoint.size}`,
      }),
    ).hashes as string[];
    verifyConsistency(
      old.size,
      checkpoint.size,
      old.root,
      checkpoint.root,
      consistency.map((text) => Buffer.from(text, "base64")),
    );
  });

  test("with the replica stopped, reads answer 502 database-unreachable naming it, and writes go on", async () => {
    await replica.stop();
    for (const path of ["/v1/devices", "/v1/events?since=0"]) {
      const answer = await get(path);
      assert.equal(answer.status, 502, `${path}: ${answer.body}`);
      assert.equal(json(answer).error.code, "database-unreachable");
      assert.match(
        json(answer).error.message,
        new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${replica.port}`),
      );
    }
    const crl = await send(node.port, agent, { method: "GET", path: "/crl" });
    assert.equal(crl.status, 502, crl.body);
    assert.match(crl.body, new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${replica.port}`));
    const { handle } = await enroll();
    const [row] = await primary.query<{ status: string }>(
      "SELECT status FROM devices WHERE handle = $1",
      [handle],
      new URL(onReplica).pathname.slice(1),
    );
    assert.equal(row?.status, "active");
  });
});

describe("--db-read on a registry kept in SQLite", () => {
  test("serve and the read commands refuse it: exit 3 sqlite-no-replica, one line, nothing opened", async () => {
    const registry = await makeRegistry();
    try {
      const url = "postgres://reid@127.0.0.1:1/none";
      for (const args of [
        ["registry", "serve", "--dir", registry.dir, "--listen", "127.0.0.1:0", "--db-read", url],
        ["registry", "devices", "--dir", registry.dir, "--db-read", url],
      ]) {
        const refused = await reid([...args, "--json"]);
        assertOneLineError(refused, 3, /kept in SQLite, which has no replica/);
        assert.match(refused.stderr, /sqlite-no-replica/);
      }
    } finally {
      registry.remove();
    }
  });
});
