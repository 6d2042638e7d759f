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
import { CHECKPOINT_FRESH_MS, IdentityLog } from "../../../src/registry/log/identity-log.js";
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
    // The servers' clock, moved by hand: a checkpoint is served from memory within CHECKPOINT_FRESH_MS.
    let ms = 0;
    const clock = () => ms;
    const first = await IdentityLog.open(one, KEY, one, clock);
    const second = await IdentityLog.open(two, KEY, two, clock);
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
    const loser = await IdentityLog.open(racing, KEY, racing, clock);
    await assert.rejects(loser.integrate(new Date()), (error: ReidError) => error.code === "log-moved");
    // Its next pass starts where the stored log ends: one history for all.
    await enrollSome(one, 2);
    assert.equal(await loser.integrate(new Date()), 2);
    // The second's own pass (of 6) is what it knows; past the bound it reads the loser's.
    ms += CHECKPOINT_FRESH_MS + 1;
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

/** `store` with its reads of the newest checkpoint counted, and held until `release` when `hold` is set. */
function counted(store: RegistryStore) {
  const reads = { count: 0, hold: false, waiting: [] as (() => void)[] };
  const view: RegistryStore = Object.assign(Object.create(store) as RegistryStore, {
    newestCheckpoint: async () => {
      reads.count++;
      if (reads.hold) await new Promise<void>((resolve) => reads.waiting.push(resolve));
      return store.newestCheckpoint();
    },
  });
  const release = () => {
    reads.hold = false;
    for (const resolve of reads.waiting.splice(0)) resolve();
  };
  return { view, reads, release };
}

describe("the checkpoint a server serves (GET /v1/log/checkpoint)", () => {
  test("one another server stored is served once the freshness bound has passed, read once per bound", async (t) => {
    const [one, two] = await twoNodes(t);
    let ms = 1000;
    const integrator = await IdentityLog.open(one, KEY, one, () => ms);
    const { view, reads } = counted(two);
    const follower = await IdentityLog.open(view, KEY, view, () => ms);
    await enrollSome(one, 3);
    await integrator.integrate(new Date());
    reads.count = 0;
    assert.equal((await follower.latest()).size, 3, "it has none in memory yet: it reads");
    assert.equal(reads.count, 1);
    await enrollSome(one, 2);
    await integrator.integrate(new Date());
    // Within the bound: the one it read, from memory, at most CHECKPOINT_FRESH_MS older than the newest.
    ms += CHECKPOINT_FRESH_MS;
    for (let i = 0; i < 5; i++) assert.equal((await follower.latest()).size, 3);
    assert.equal(reads.count, 1);
    // Past it: the other server's checkpoint, read once and checked against the tree it extends.
    ms += 1;
    const picked = await follower.latest();
    assert.deepEqual([picked.size, picked.note], [5, (await integrator.latest()).note]);
    assert.equal(reads.count, 2);
    verifyInclusion(
      leafHash(leafOf((await two.eventsByLeaf(4, 5))[0] as Parameters<typeof leafOf>[0])),
      4,
      5,
      follower.inclusionProof(4, 5),
      picked.root,
    );
    assert.equal((await follower.latest()).size, 5);
    assert.equal(reads.count, 2);
  });

  test("a size beyond the one in memory is read at once, within the bound too", async (t) => {
    const [one, two] = await twoNodes(t);
    const ms = 0;
    const integrator = await IdentityLog.open(one, KEY, one, () => ms);
    const follower = await IdentityLog.open(two, KEY, two, () => ms);
    await enrollSome(one, 2);
    await integrator.integrate(new Date());
    assert.equal((await follower.latest()).size, 2);
    await enrollSome(one, 4);
    await integrator.integrate(new Date());
    assert.equal((await follower.latest()).size, 2, "the clock stands still: memory");
    assert.equal((await follower.covering(6)).size, 6, "a proof up to 6 leaves reads the store");
    assert.equal((await follower.covering(7)).size, 6, "and 7 is beyond the log");
  });

  test("a server's own pass is served as it stored it, with no read", async (t) => {
    const [one] = await twoNodes(t);
    const { view, reads } = counted(one);
    const log = await IdentityLog.open(view, KEY, view, () => 0);
    await enrollSome(one, 4);
    await log.integrate(new Date());
    const before = reads.count;
    const served = await log.latest();
    assert.deepEqual([served.size, served.note], [4, (await one.newestCheckpoint())?.note]);
    assert.equal(reads.count, before, "no read for its own checkpoint");
  });

  test("concurrent questions share one read; a forged checkpoint read so is refused to each and never served", async (t) => {
    const [one, two] = await twoNodes(t);
    let ms = 0;
    const integrator = await IdentityLog.open(one, KEY, one, () => ms);
    await enrollSome(one, 3);
    await integrator.integrate(new Date());
    const { view, reads, release } = counted(two);
    let forged = false;
    const forging: RegistryStore = Object.assign(Object.create(view) as RegistryStore, {
      newestCheckpoint: async () => {
        const stored = await view.newestCheckpoint();
        return forged && stored ? { ...stored, root: new Uint8Array(32) } : stored;
      },
    });
    const follower = await IdentityLog.open(two, KEY, forging, () => ms);
    reads.count = 0;
    reads.hold = true;
    const asked = Array.from({ length: 20 }, () => follower.latest());
    await sleep(20);
    assert.equal(reads.count, 1, "one read for twenty questions");
    release();
    assert.deepEqual(
      (await Promise.all(asked)).map((checkpoint) => checkpoint.size),
      Array(20).fill(3),
    );
    // The next checkpoint comes forged (a root the tree does not make): each question sharing its read is refused.
    await enrollSome(one, 1);
    await integrator.integrate(new Date());
    forged = true;
    ms += CHECKPOINT_FRESH_MS + 1;
    reads.count = 0;
    const refused = await Promise.allSettled(Array.from({ length: 5 }, () => follower.latest()));
    assert.equal(reads.count, 1);
    for (const result of refused) {
      assert.equal(result.status, "rejected");
      assert.equal((result.reason as ReidError).code, "registry-corrupt");
    }
    await assert.rejects(follower.latest(), (error: ReidError) => error.code === "registry-corrupt");
    assert.equal(reads.count, 2, "a refused read is not remembered as fresh: asked again, read again");
  });

  test("without a checkpoint yet, every question reads (none is remembered) and fails as before", async (t) => {
    const [one, two] = await twoNodes(t);
    const { view, reads } = counted(two);
    const follower = await IdentityLog.open(view, KEY, view, () => 0);
    reads.count = 0;
    await assert.rejects(follower.latest(), /no signed checkpoint yet/);
    await assert.rejects(follower.latest(), /no signed checkpoint yet/);
    assert.equal(reads.count, 2);
    const integrator = await IdentityLog.open(one, KEY);
    await integrator.integrate(new Date());
    assert.equal((await follower.latest()).size, 0, "the first one is served at once");
  });
});
