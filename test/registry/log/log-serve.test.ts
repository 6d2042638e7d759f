// The identity log on the built CLI's `registry serve` (docs/spec.md §10.12), with curl as the
// client: every answer's log index is its event's leaf; the checkpoint opens with the key
// `registry init` printed; the leaves recompute its root; the API's inclusion and consistency proofs
// verify (and a wrong one does not); a restart keeps the log; a database whose history was changed
// behind the registry's back stops the server (registry-corrupt); bad queries are refused exactly.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { signStatement } from "../../../src/derive/succession-statement.js";
import { type Checkpoint, parseCheckpoint } from "../../../src/registry/log/checkpoint.js";
import { leafHash } from "../../../src/registry/log/hash.js";
import { eventOfLeaf, leafOf } from "../../../src/registry/log/leaf.js";
import { openNote, parseVerifierKey } from "../../../src/registry/log/note.js";
import { MerkleTree } from "../../../src/registry/log/tree.js";
import { verifyConsistency, verifyInclusion } from "../../../src/registry/log/verify.js";
import { openSqliteRegistry } from "../../../src/registry/store/sqlite/open.js";
import type { RegistryEvent } from "../../../src/registry/store/store.js";
import { reid, reidJson } from "../../helpers/cli.js";
import {
  type Answer,
  csrBase64,
  curl,
  estEnroll,
  makeRegistry,
  newKey,
  newToken,
  pkcs7Certificates,
  type ServedRegistry,
  serveRegistry,
} from "../../helpers/registry.js";
import { csrOf, newIdentity, successionBody, successionStatement } from "../../helpers/succession.js";
import { secretFile } from "../../helpers/temp.js";
import { at, newEnrollment } from "../storage-conformance.js";

const JSON_TYPE = ["-H", "Content-Type: application/json"];
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** A registry of the suite, served, with what a client of its log holds. */
interface LogFixture {
  root: string;
  dir: string;
  ca: string;
  logKey: string;
  server: ServedRegistry;
}

function get(fixture: LogFixture, path: string): Promise<Answer> {
  return curl(fixture.root, `${fixture.server.base}${path}`, { ca: fixture.ca });
}

function json<T>(answer: Answer): T {
  assert.equal(answer.status, 200, answer.body.toString());
  assert.match(answer.headers, /content-type: application\/json/i);
  return JSON.parse(answer.body.toString("utf8")) as T;
}

/** The served checkpoint, opened with the verifier key `registry init` printed. */
async function servedCheckpoint(fixture: LogFixture): Promise<Checkpoint & { note: string }> {
  const answer = await get(fixture, "/v1/log/checkpoint");
  assert.equal(answer.status, 200, answer.body.toString());
  assert.match(answer.headers, /content-type: text\/plain; charset=utf-8/i);
  const note = answer.body.toString("utf8");
  return { ...parseCheckpoint(openNote(note, parseVerifierKey(fixture.logKey))), note };
}

/** Asks until a checkpoint covers `size` leaves: the integrator signs one soon after a change. */
async function checkpointCovering(fixture: LogFixture, size: number): Promise<Checkpoint & { note: string }> {
  for (let tries = 0; ; tries++) {
    const checkpoint = await servedCheckpoint(fixture);
    if (checkpoint.size >= size) return checkpoint;
    assert.ok(tries < 300, `no checkpoint of ${size} leaves came (the newest has ${checkpoint.size})`);
    await sleep(100);
  }
}

/** Every leaf of the first `size`, asked a page at a time as the API answers them. */
async function servedLeaves(fixture: LogFixture, size: number): Promise<Uint8Array[]> {
  const leaves: Uint8Array[] = [];
  while (leaves.length < size) {
    const page = json<{ start: number; leaves: string[] }>(
      await get(fixture, `/v1/log/leaves?start=${leaves.length}&end=${size}`),
    );
    assert.equal(page.start, leaves.length);
    assert.ok(page.leaves.length > 0 && page.leaves.length <= 1000, `a page of ${page.leaves.length}`);
    leaves.push(...page.leaves.map(unb64));
  }
  return leaves;
}

function treeOf(leaves: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree();
  for (const leaf of leaves) tree.append(leafHash(leaf));
  return tree;
}

function logIndexHeader(answer: Answer): number {
  const value = /^reid-log-index: *(\d+)\r?$/im.exec(answer.headers)?.[1];
  assert.ok(value !== undefined, `no Reid-Log-Index in ${answer.headers}`);
  return Number(value);
}

function servedLog(): LogFixture {
  const fixture = {} as LogFixture;
  let remove = () => {};
  before(async () => {
    const made = await makeRegistry();
    remove = made.remove;
    Object.assign(fixture, {
      root: made.root,
      dir: made.dir,
      ca: join(made.dir, "ca.pem"),
      logKey: made.logKey,
    });
    fixture.server = await serveRegistry(made.dir);
  });
  after(async () => {
    await fixture.server?.stop();
    remove();
  });
  return fixture;
}

describe("the identity log on reid registry serve", () => {
  const fixture = servedLog();
  const post = (path: string, body: string, args: readonly string[]) =>
    curl(fixture.root, `${fixture.server.base}${path}`, { ca: fixture.ca, body, args });

  test("every answer's index is its event's leaf; the checkpoint opens with init's key; the leaves make its root; the API's proofs verify", async () => {
    const keyAnswer = await get(fixture, "/v1/log/key");
    assert.equal(keyAnswer.body.toString(), `${fixture.logKey}\n`);
    assert.match(keyAnswer.headers, /content-type: text\/plain\r?\n/i);
    const answered: { index: number; type: RegistryEvent["type"]; handle: string }[] = [];
    const enroll = async (csr: string) => {
      const answer = await estEnroll(
        fixture.root,
        fixture.server.base,
        fixture.ca,
        csr,
        await newToken(fixture.dir),
      );
      assert.equal(answer.status, 200, answer.body.toString());
      return answer;
    };

    const [first, successor, retired] = [newIdentity(), newIdentity(), newIdentity()];
    const enrolled = await enroll(await csrOf(first, "ed25519"));
    answered.push({ index: logIndexHeader(enrolled), type: "enrolled", handle: first.handle });
    // What an element that enrolled first keeps: the checkpoint that holds its enrollment.
    const early = await checkpointCovering(fixture, logIndexHeader(enrolled) + 1);

    answered.push({
      index: logIndexHeader(await enroll(await csrOf(retired, "p256"))),
      type: "enrolled",
      handle: retired.handle,
    });
    const renewedKey = newKey(join(fixture.root, "renewed.key"), "p256");
    const renewedHandle = randomBytes(16).toString("hex");
    const pem = pkcs7Certificates((await enroll(csrBase64(renewedKey, renewedHandle))).body);
    const renewed = await post("/.well-known/est/simplereenroll", csrBase64(renewedKey, renewedHandle), [
      "-H",
      "Content-Type: application/pkcs10",
      "--cert",
      secretFile(fixture.root, "renewed.pem", pem),
      "--key",
      renewedKey,
    ]);
    assert.equal(renewed.status, 200, renewed.body.toString());
    answered.push({ index: logIndexHeader(renewed), type: "renewed", handle: renewedHandle });

    const origin = fixture.server.base;
    const succession = await post(
      "/v1/succession",
      await successionBody(successionStatement(origin, first, successor), "ed25519", {
        signer: first,
        countersigner: successor,
        csr: successor,
      }),
      JSON_TYPE,
    );
    const succeeded = json<{ logIndex: number }>(succession);
    answered.push({ index: succeeded.logIndex, type: "succeeded", handle: successor.handle });
    const retirement = signStatement(
      { v: 1, type: "retirement", registry: origin, handle: retired.handle, at: new Date().toISOString() },
      "p256",
      retired,
    );
    const gone = json<{ logIndex: number }>(
      await post("/v1/retirement", JSON.stringify(retirement), JSON_TYPE),
    );
    answered.push({ index: gone.logIndex, type: "revoked", handle: retired.handle });
    // Another process writes beside the server: its event is a leaf too.
    const revoked = await reidJson<{ logIndex: number }>([
      "registry",
      "revoke",
      renewedHandle,
      "--dir",
      fixture.dir,
      "--reason",
      "keyCompromise",
    ]);
    answered.push({ index: revoked.logIndex, type: "revoked", handle: renewedHandle });

    const size = Math.max(...answered.map((answer) => answer.index)) + 1;
    const last = await checkpointCovering(fixture, size);
    assert.match(last.origin, /^reid-registry\/[0-9a-f]{16}$/);
    assert.equal(fixture.logKey.split("+")[0], last.origin);
    const leaves = await servedLeaves(fixture, last.size);
    const events = leaves.map(eventOfLeaf);
    for (const { index, type, handle } of answered) {
      assert.deepEqual([events[index]?.type, events[index]?.handle], [type, handle], `leaf ${index}`);
    }
    const sequences = events.map((event) => event.sequence);
    assert.ok(
      sequences.every((sequence, i) => i === 0 || sequence > (sequences[i - 1] as number)),
      `leaves not in the order of events: ${sequences}`,
    );
    // What the database holds, leaf for leaf.
    const store = await openSqliteRegistry(join(fixture.dir, "registry.db"));
    try {
      const stored = await store.eventsByLeaf(0, last.size);
      assert.deepEqual(
        leaves.map(b64),
        stored.map((event) => b64(leafOf(event))),
      );
    } finally {
      await store.close();
    }

    const tree = treeOf(leaves);
    assert.equal(hex(tree.root()), hex(last.root), "the leaves do not make the checkpoint's root");
    assert.equal(
      hex(tree.root(early.size)),
      hex(early.root),
      "the early checkpoint is not a prefix of the log",
    );

    const consistency = json<{ from: number; to: number; hashes: string[] }>(
      await get(fixture, `/v1/log/proof/consistency?from=${early.size}&to=${last.size}`),
    );
    assert.deepEqual([consistency.from, consistency.to], [early.size, last.size]);
    verifyConsistency(early.size, last.size, early.root, last.root, consistency.hashes.map(unb64));
    // The checker refuses the same proof for another history.
    assert.throws(
      () =>
        verifyConsistency(
          early.size,
          last.size,
          tree.root(early.size + 1),
          last.root,
          consistency.hashes.map(unb64),
        ),
      /does not extend/,
    );
    for (let from = 1; from <= last.size; from++) {
      const proof = json<{ hashes: string[] }>(
        await get(fixture, `/v1/log/proof/consistency?from=${from}&to=${last.size}`),
      );
      verifyConsistency(from, last.size, tree.root(from), last.root, proof.hashes.map(unb64));
    }
    for (const [index, leaf] of leaves.entries()) {
      const proof = json<{ index: number; size: number; hashes: string[] }>(
        await get(fixture, `/v1/log/proof/inclusion?index=${index}&size=${last.size}`),
      );
      assert.deepEqual([proof.index, proof.size], [index, last.size]);
      verifyInclusion(leafHash(leaf), index, last.size, proof.hashes.map(unb64), last.root);
      if (index + 1 < last.size) {
        assert.throws(
          () =>
            verifyInclusion(
              leafHash(leaves[index + 1] as Uint8Array),
              index,
              last.size,
              proof.hashes.map(unb64),
              last.root,
            ),
          /is not in the log/,
        );
      }
    }
    // A proof at a size no checkpoint signed verifies against the root the leaves make there.
    const middle = json<{ hashes: string[] }>(await get(fixture, `/v1/log/proof/inclusion?index=0&size=2`));
    verifyInclusion(leafHash(leaves[0] as Uint8Array), 0, 2, middle.hashes.map(unb64), tree.root(2));
    // A key other than the registry's opens no checkpoint.
    const other = await makeRegistry();
    try {
      assert.throws(() => openNote(last.note, parseVerifierKey(other.logKey)), /not signed by/);
    } finally {
      other.remove();
    }
  });

  test("a log longer than a page: the integrator takes every event, an answer holds 1,000 leaves at most", async () => {
    const store = await openSqliteRegistry(join(fixture.dir, "registry.db"));
    try {
      const before = await store.logSize();
      // From another process's connection, asked all at once: many passes' worth of events.
      await Promise.all(Array.from({ length: 1100 }, (_, i) => store.enroll(newEnrollment({ at: at(i) }))));
      const size = before + 1100;
      const checkpoint = await checkpointCovering(fixture, size);
      const page = json<{ start: number; leaves: string[] }>(
        await get(fixture, `/v1/log/leaves?start=0&end=${size}`),
      );
      assert.equal(page.leaves.length, 1000);
      const leaves = await servedLeaves(fixture, checkpoint.size);
      assert.equal(hex(treeOf(leaves).root()), hex(checkpoint.root));
      assert.deepEqual(
        leaves
          .slice(before)
          .map(eventOfLeaf)
          .map((event) => event.type),
        Array.from({ length: 1100 }, () => "enrolled"),
      );
    } finally {
      await store.close();
    }
  });

  test("a restart keeps the log: the same checkpoint, and the next event extends it", async () => {
    const kept = await servedCheckpoint(fixture);
    await fixture.server.stop();
    fixture.server = await serveRegistry(fixture.dir);
    const again = await servedCheckpoint(fixture);
    assert.deepEqual([again.size, hex(again.root), again.note], [kept.size, hex(kept.root), kept.note]);
    const answer = await estEnroll(
      fixture.root,
      fixture.server.base,
      fixture.ca,
      await csrOf(newIdentity(), "ed25519"),
      await newToken(fixture.dir),
    );
    assert.equal(logIndexHeader(answer), kept.size);
    const grown = await checkpointCovering(fixture, kept.size + 1);
    const proof = json<{ hashes: string[] }>(
      await get(fixture, `/v1/log/proof/consistency?from=${kept.size}&to=${grown.size}`),
    );
    verifyConsistency(kept.size, grown.size, kept.root, grown.root, proof.hashes.map(unb64));
  });

  test("bad queries are refused with their status and code, in one line of JSON", async () => {
    const size = (await servedCheckpoint(fixture)).size;
    const cases: [string, number, string][] = [
      ["/v1/log/key?x=1", 400, "usage"],
      ["/v1/log/checkpoint?size=1", 400, "usage"],
      ["/v1/log/leaves", 400, "usage"],
      ["/v1/log/leaves?start=0", 400, "usage"],
      ["/v1/log/leaves?start=00&end=1", 400, "usage"],
      ["/v1/log/leaves?start=-1&end=1", 400, "usage"],
      ["/v1/log/leaves?start=+1&end=2", 400, "usage"],
      ["/v1/log/leaves?start=0x1&end=2", 400, "usage"],
      ["/v1/log/leaves?start=1.0&end=2", 400, "usage"],
      ["/v1/log/leaves?start=0&end=1&end=2", 400, "usage"],
      ["/v1/log/leaves?start=0&end=1&limit=1", 400, "usage"],
      ["/v1/log/leaves?start=1&end=1", 400, "usage"],
      ["/v1/log/leaves?start=2&end=1", 400, "usage"],
      ["/v1/log/leaves?start=0&end=99999999999999999", 400, "usage"],
      [`/v1/log/leaves?start=0&end=${size + 1}`, 400, "beyond-log"],
      [`/v1/log/leaves?start=${size}&end=${size + 1}`, 400, "beyond-log"],
      ["/v1/log/proof/inclusion?index=0", 400, "usage"],
      ["/v1/log/proof/inclusion?index=1&size=1", 400, "usage"],
      ["/v1/log/proof/inclusion?index=0&size=0", 400, "usage"],
      ["/v1/log/proof/inclusion?index=01&size=2", 400, "usage"],
      [`/v1/log/proof/inclusion?index=0&size=${size + 1}`, 400, "beyond-log"],
      ["/v1/log/proof/consistency?from=0&to=1", 400, "usage"],
      ["/v1/log/proof/consistency?from=2&to=1", 400, "usage"],
      ["/v1/log/proof/consistency?from=1", 400, "usage"],
      ["/v1/log/proof/consistency?from=1&to=", 400, "usage"],
      [`/v1/log/proof/consistency?from=1&to=${size + 1}`, 400, "beyond-log"],
      ["/v1/log/proofs", 404, "not-found"],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get(fixture, path);
      const text = answer.body.toString("utf8");
      assert.equal(answer.status, status, `${path}: ${text}`);
      assert.match(answer.headers, /content-type: application\/json/i, path);
      assert.ok(text.endsWith("}") && !text.includes("\n"), `${path}: not one line: ${text}`);
      assert.equal(JSON.parse(text).error.code, code, `${path}: ${text}`);
    }
    const posted = await curl(fixture.root, `${fixture.server.base}/v1/log/checkpoint`, {
      ca: fixture.ca,
      body: "{}",
      args: JSON_TYPE,
    });
    assert.deepEqual([posted.status, JSON.parse(posted.body.toString()).error.code], [404, "not-found"]);
    // The bounds themselves are answered.
    json(await get(fixture, `/v1/log/proof/inclusion?index=${size - 1}&size=${size}`));
    json(await get(fixture, `/v1/log/proof/consistency?from=${size}&to=${size}`));
    assert.equal(
      json<{ leaves: string[] }>(await get(fixture, `/v1/log/leaves?start=${size - 1}&end=${size}`)).leaves
        .length,
      1,
    );
  });
});

describe("a registry database whose history was changed behind the registry's back", () => {
  /** A registry with a few events, integrated by one run of serve and stopped: its database and events. */
  async function integrated(t: TestContext): Promise<{ dir: string; events: RegistryEvent[] }> {
    const made = await makeRegistry();
    t.after(() => made.remove());
    const store = await openSqliteRegistry(join(made.dir, "registry.db"));
    for (let i = 0; i < 5; i++) await store.enroll(newEnrollment({ at: at(i) }));
    const events = await store.eventsByLeaf(0, 5);
    await store.close();
    const served = await serveRegistry(made.dir);
    const fixture = {
      root: made.root,
      dir: made.dir,
      ca: join(made.dir, "ca.pem"),
      logKey: made.logKey,
      server: served,
    };
    await checkpointCovering(fixture, 5);
    await served.stop();
    return { dir: made.dir, events };
  }

  /** Rewrites leaf 2's event to say another serial, and with `hash` its stored leaf hash to match. */
  function rewrite(dir: string, event: RegistryEvent, options: { hash: boolean }): void {
    const forged = { ...event, data: { serial: "1234" } };
    const raw = new Database(join(dir, "registry.db"));
    try {
      raw.prepare("UPDATE events SET data = ? WHERE leaf = ?").run(JSON.stringify(forged.data), event.leaf);
      if (options.hash) {
        // The integrator's row holding the leaf: its 32 bytes replaced by the forged event's hash.
        const row = raw
          .prepare("SELECT start, hashes FROM log_hashes WHERE start <= ? ORDER BY start DESC LIMIT 1")
          .get(event.leaf) as { start: number; hashes: Buffer };
        Buffer.from(leafHash(leafOf(forged))).copy(row.hashes, (event.leaf - row.start) * 32);
        raw.prepare("UPDATE log_hashes SET hashes = ? WHERE start = ?").run(row.hashes, row.start);
      }
    } finally {
      raw.close();
    }
  }

  const serve = (dir: string) =>
    reid(["--json", "registry", "serve", "--dir", dir, "--listen", "127.0.0.1:0"], { timeoutMs: 30_000 });

  test("an event rewritten with its stored hash: serve refuses to start, registry-corrupt (exit 6)", async (t) => {
    const { dir, events } = await integrated(t);
    rewrite(dir, events[2] as RegistryEvent, { hash: true });
    const result = await serve(dir);
    assert.equal(result.code, 6, result.stderr);
    assert.equal(result.stdout, "", "it served");
    const error = JSON.parse(result.stderr.trim()).error;
    assert.equal(error.code, "registry-corrupt");
    assert.match(error.message, /checkpoint of 5/);
  });

  test("an event rewritten alone: serve stops on its check of the stored history, registry-corrupt (exit 6)", async (t) => {
    const { dir, events } = await integrated(t);
    rewrite(dir, events[2] as RegistryEvent, { hash: false });
    const result = await serve(dir);
    assert.equal(result.code, 6, result.stderr);
    const lines = result.stderr.trim().split("\n");
    const error = JSON.parse(lines.at(-1) as string).error;
    assert.equal(error.code, "registry-corrupt");
    assert.match(error.message, new RegExp(`event ${events[2]?.sequence} is not leaf 2`));
  });

  test("its newest checkpoint deleted, its pass's hashes left: serve refuses to start, registry-corrupt (exit 6)", async (t) => {
    const { dir } = await integrated(t);
    const raw = new Database(join(dir, "registry.db"));
    raw.prepare("DELETE FROM log_checkpoints WHERE size = (SELECT max(size) FROM log_checkpoints)").run();
    raw.close();
    const result = await serve(dir);
    assert.equal(result.code, 6, result.stderr);
    assert.equal(result.stdout, "", "it served");
    const error = JSON.parse(result.stderr.trim()).error;
    assert.equal(error.code, "registry-corrupt");
    assert.match(error.message, /leaf hashes past its newest checkpoint/);
  });

  test("the same database unchanged serves on (the checks above fail only on what was changed)", async (t) => {
    const { dir } = await integrated(t);
    const served = await serveRegistry(dir);
    await sleep(500);
    const stopped = await served.stop();
    assert.equal(stopped.code, 0, stopped.stderr.toString());
  });
});
