// The identity log as servers hold it (docs/spec.md §10.12), in process on one SQLite database with
// two connections, as two nodes: the one that integrates signs checkpoints; one that does not
// integrate extends its tree from what the other stored when asked for more; an integrator whose
// pass another one beat takes the stored pass as its start and goes on; a server told it is not
// the integrator signs nothing.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ReidError } from "../../../src/errors.js";
import { parseCheckpoint } from "../../../src/registry/log/checkpoint.js";
import { EMPTY_ROOT, leafHash } from "../../../src/registry/log/hash.js";
import { IdentityLog } from "../../../src/registry/log/identity-log.js";
import { startIntegrator } from "../../../src/registry/log/integrator.js";
import { leafOf } from "../../../src/registry/log/leaf.js";
import { logKeyOf } from "../../../src/registry/log/log-key.js";
import { openNote, parseVerifierKey } from "../../../src/registry/log/note.js";
import { verifyInclusion } from "../../../src/registry/log/verify.js";
import { registryFailure } from "../../../src/registry/registry-errors.js";
import { openSqliteRegistry } from "../../../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../../../src/registry/store/store.js";
import { tempDir } from "../../helpers/temp.js";
import { at, newEnrollment } from "../storage-conformance.js";

const KEY = logKeyOf(generateKeyPairSync("ed25519").privateKey, `sha256:${"ab".repeat(32)}`);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Two connections to one new database: two servers of one registry. */
async function twoNodes(t: TestContext): Promise<[RegistryStore, RegistryStore]> {
  const { dir } = tempDir(t, "reid-log-");
  const path = join(dir, "registry.db");
  const first = await openSqliteRegistry(path, { create: true });
  const second = await openSqliteRegistry(path);
  t.after(async () => {
    await first.close();
    await second.close();
  });
  return [first, second];
}

async function enrollSome(store: RegistryStore, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.enroll(newEnrollment({ at: at(i) }));
}

describe("the identity log on two servers of one database", () => {
  test("the integrator's checkpoints open with the log's key; a server that does not integrate catches up when asked for more", async (t) => {
    const [one, two] = await twoNodes(t);
    const integrator = await IdentityLog.open(one, KEY);
    const follower = await IdentityLog.open(two, KEY);
    assert.equal(await integrator.integrate(new Date()), 0);
    const empty = await integrator.latest();
    assert.deepEqual([empty.size, hex(empty.root)], [0, hex(EMPTY_ROOT)]);
    const opened = parseCheckpoint(openNote(empty.note, parseVerifierKey(KEY.verifierKey)));
    assert.deepEqual([opened.origin, opened.size], [`reid-registry/${"ab".repeat(8)}`, 0]);

    await enrollSome(one, 7);
    assert.equal(await integrator.integrate(new Date()), 7);
    const signed = await integrator.latest();
    assert.equal(signed.size, 7);
    // The follower opened before any checkpoint; asked about 7 leaves, it reads what the integrator stored.
    assert.equal(follower.checkpoint, null);
    const caughtUp = await follower.covering(7);
    assert.deepEqual([caughtUp.size, hex(caughtUp.root), caughtUp.note], [7, hex(signed.root), signed.note]);
    const events = await two.eventsByLeaf(0, 7);
    for (const event of events) {
      const proof = follower.inclusionProof(event.leaf, 7);
      verifyInclusion(leafHash(leafOf(event)), event.leaf, 7, proof, caughtUp.root);
      assert.deepEqual(proof.map(hex), integrator.inclusionProof(event.leaf, 7).map(hex));
    }
    assert.deepEqual(
      (await follower.leaves(0, 7)).map(hex),
      events.map((event) => hex(leafOf(event))),
    );
  });

  test("an integrator beaten to a pass by another takes the stored pass as its start and goes on from there", async (t) => {
    const [one, two] = await twoNodes(t);
    const first = await IdentityLog.open(one, KEY);
    const second = await IdentityLog.open(two, KEY);
    await enrollSome(one, 3);
    assert.equal(await first.integrate(new Date()), 3);
    // The second has not seen that pass; its refresh at the start of its own pass reads it.
    await enrollSome(two, 2);
    assert.equal(await second.integrate(new Date()), 2);
    assert.equal((await second.latest()).size, 5);
    // The second moves the log between the first's reading of it and its storing: a race lost.
    await enrollSome(one, 1);
    let raced = false;
    const racing = new Proxy(one, {
      get(target, name, receiver) {
        if (name !== "appendLog" || raced) return Reflect.get(target, name, receiver);
        return async (append: Parameters<RegistryStore["appendLog"]>[0]) => {
          raced = true;
          await second.integrate(new Date());
          return target.appendLog(append);
        };
      },
    });
    const loser = await IdentityLog.open(racing, KEY);
    await assert.rejects(loser.integrate(new Date()), (error: ReidError) => error.code === "log-moved");
    // Its next pass starts where the stored log ends: one history for all.
    await enrollSome(one, 2);
    assert.equal(await loser.integrate(new Date()), 2);
    const [a, b] = [await loser.latest(), await second.latest()];
    assert.deepEqual([a.size, b.size], [8, 8]);
    assert.equal(hex(a.root), hex(b.root));
    assert.deepEqual((await first.latest()).size, 8);
  });

  test("a pass whose write failed leaves its leaves in the tree; the next pass stores them with the new ones", async (t) => {
    const [one] = await twoNodes(t);
    let failures = 1;
    const failing = new Proxy(one, {
      get(target, name, receiver) {
        if (name !== "appendLog") return Reflect.get(target, name, receiver);
        return async (append: Parameters<RegistryStore["appendLog"]>[0]) => {
          if (failures-- > 0) throw registryFailure("the disk is full");
          return target.appendLog(append);
        };
      },
    });
    const log = await IdentityLog.open(failing, KEY);
    await enrollSome(one, 3);
    await assert.rejects(log.integrate(new Date()), /the disk is full/);
    assert.equal(await one.newestCheckpoint(), null);
    await enrollSome(one, 2);
    assert.equal(await log.integrate(new Date()), 5);
    const stored = await one.newestCheckpoint();
    assert.equal(stored?.size, 5);
    const events = await one.eventsByLeaf(0, 5);
    assert.deepEqual(
      (await one.logHashes(0, 5)).map(hex),
      events.map((event) => hex(leafHash(leafOf(event)))),
    );
    // What is stored is what a server starting now holds.
    const reopened = await IdentityLog.open(one, KEY);
    assert.equal(hex((await reopened.latest()).root), hex(stored?.root ?? new Uint8Array()));
  });

  test("a server told it is not the integrator signs nothing; told it is, it integrates within its passes", async (t) => {
    const [one] = await twoNodes(t);
    await enrollSome(one, 4);
    const log = await IdentityLog.open(one, KEY);
    let integrating = false;
    const reports: string[] = [];
    const integrator = await startIntegrator({
      log,
      integrating: async () => integrating,
      report: (message) => reports.push(message),
      corrupt: (error) => reports.push(`corrupt: ${error.message}`),
    });
    t.after(() => integrator.stop());
    await sleep(600);
    assert.equal(await one.newestCheckpoint(), null, "a server that is not the integrator signed");
    integrating = true;
    for (let tries = 0; (await one.newestCheckpoint())?.size !== 4; tries++) {
      assert.ok(tries < 100, "no checkpoint came");
      await sleep(50);
    }
    assert.deepEqual(reports, []);
  });

  test("read from a lagging view (a replica), it serves that view's checkpoint, checked against its own tree, never a forged one", async (t) => {
    const [one, two] = await twoNodes(t);
    await enrollSome(one, 3);
    // The view the server reads: the database as it was at `shown`, or a forged checkpoint.
    let shown: Awaited<ReturnType<RegistryStore["newestCheckpoint"]>> = null;
    let forged = false;
    const view: RegistryStore = Object.assign(Object.create(two) as RegistryStore, {
      newestCheckpoint: async () =>
        forged && shown ? { ...shown, root: new Uint8Array(32), note: shown.note } : shown,
    });
    const log = await IdentityLog.open(one, KEY, view);
    assert.equal(await log.integrate(new Date()), 3);
    await assert.rejects(log.latest(), /no signed checkpoint yet/, "the view has none yet");
    shown = await one.newestCheckpoint();
    await enrollSome(one, 2);
    assert.equal(await log.integrate(new Date()), 2);
    // The tree holds 5 leaves; the view's checkpoint of 3 is served, and proofs up to it.
    assert.equal((await log.latest()).size, 3);
    assert.equal((await log.covering(5)).size, 3, "a size past the view's checkpoint is not covered");
    const leaf = (await log.leaves(2, 3))[0] as Uint8Array;
    verifyInclusion(leafHash(leaf), 2, 3, log.inclusionProof(2, 3), (await log.latest()).root);
    // A checkpoint the tree does not hold, its signature or root not the log's: refused, never served.
    const second = await IdentityLog.open(one, KEY, view);
    forged = true;
    await assert.rejects(second.latest(), (error: ReidError) => error.code === "registry-corrupt");
  });
});
