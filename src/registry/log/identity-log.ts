import { ReidError } from "../../errors.js";
import { registryCorrupt, registryFailure } from "../registry-errors.js";
import { LOG_PAGE_LIMIT, type RegistryStore, type StoredCheckpoint } from "../store/store.js";
import { checkpointText, parseCheckpoint } from "./checkpoint.js";
import { leafHash } from "./hash.js";
import { leafOf } from "./leaf.js";
import type { LogKey } from "./log-key.js";
import { openNote, parseVerifierKey, signNote, type VerifierKey } from "./note.js";
import { MerkleTree } from "./tree.js";

/**
 * How long a checkpoint known to be the newest stored is served without reading again
 * (docs/spec.md §10.12): well below the integrator's 250 ms between passes.
 */
export const CHECKPOINT_FRESH_MS = 100;

/**
 * The registry's identity log as a server holds it (docs/spec.md §10.12): the Merkle tree of every
 * leaf in memory, rebuilt at start from the stored leaf hashes (32 bytes a leaf, not the events'
 * canonical JSON hashed anew) and held to the newest signed checkpoint, then extended by the
 * integrator's passes or, on a server that does not integrate, from what the integrator stored.
 * One change of the tree at a time; reads of it need no turn, since a prefix never changes.
 *
 * What it serves (the checkpoint, leaves) is read from `reads`: the database itself, or a streaming
 * replica of it (`serve --db-read`). The integrator always reads and writes the database. Served
 * from a replica, the checkpoint is the newest the replica has replayed, and every leaf it covers is
 * there too (its events committed before the pass that signed it, and a replica replays commits in
 * order); its proofs come from this tree, which holds that prefix whatever else it holds: a
 * lagging view, never an inconsistent one (§10.12).
 *
 * The checkpoint served is read again at most once per CHECKPOINT_FRESH_MS: clients poll it (an
 * element after its answer, an auditor, a monitor), many a second, and a read per poll was a
 * database round trip each. Whoever asks gets one at least as new as the newest `reads` held
 * CHECKPOINT_FRESH_MS before the question; a size beyond it reads at once (covering).
 */
export class IdentityLog {
  private tree = new MerkleTree();
  private newest: StoredCheckpoint | null = null;
  /** The newest checkpoint `reads` was seen to hold: what is served. */
  private seen: StoredCheckpoint | null = null;
  /**
   * When (`clock`) `seen` was last known to be at least the newest `reads` held: the start of the
   * read that found it, or of the storing of this server's own pass.
   */
  private seenAt = Number.NEGATIVE_INFINITY;
  /** The read of `reads`' newest checkpoint in flight, if any: a question asked meanwhile waits for it. */
  private reading: { readonly startedAt: number; readonly done: Promise<void> } | null = null;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly verifier: VerifierKey;

  private constructor(
    private readonly store: RegistryStore,
    readonly key: LogKey,
    private readonly reads: RegistryStore,
    private readonly clock: () => number,
  ) {
    this.verifier = parseVerifierKey(key.verifierKey);
  }

  /**
   * Loads the log: `registry-corrupt` if its stored history is not the one its newest checkpoint
   * signed. `clock` (milliseconds, monotonic) times how fresh the served checkpoint is.
   */
  static async open(
    store: RegistryStore,
    key: LogKey,
    reads = store,
    clock: () => number = () => performance.now(),
  ): Promise<IdentityLog> {
    const log = new IdentityLog(store, key, reads, clock);
    await log.exclusive(() => log.load());
    return log;
  }

  /** The newest checkpoint this server knows. */
  get checkpoint(): StoredCheckpoint | null {
    return this.newest;
  }

  /**
   * The newest checkpoint `reads` held at most CHECKPOINT_FRESH_MS ago, stored by this server or
   * another one's integrator: the tree is extended to it first. Concurrent questions share one
   * read, and this server's own pass is served as it stores it. Without one yet (no integrator has
   * signed any, or none has reached the replica): `registry-failure`.
   */
  latest(): Promise<StoredCheckpoint> {
    return this.served(CHECKPOINT_FRESH_MS);
  }

  /** The newest checkpoint served, read again at once when it is below `size`. */
  async covering(size: number): Promise<StoredCheckpoint> {
    return this.seen !== null && this.seen.size >= size ? this.seen : this.served(null);
  }

  /**
   * The served checkpoint, read again first unless it was the newest `reads` held within `age` ms
   * (null: read now, or join a read begun no earlier than this question).
   */
  private async served(age: number | null): Promise<StoredCheckpoint> {
    const now = this.clock();
    if (this.seen === null || age === null || now - this.seenAt > age) {
      await this.readNewest(now - (age ?? 0));
    }
    if (this.seen === null) throw registryFailure("the identity log has no signed checkpoint yet");
    return this.seen;
  }

  /** A read of `reads`' newest checkpoint started at or after `since`: the one in flight, else a new one. */
  private readNewest(since: number): Promise<void> {
    if (this.reading !== null && this.reading.startedAt >= since) return this.reading.done;
    const startedAt = this.clock();
    const done = this.readChecked(startedAt).finally(() => {
      if (this.reading?.done === done) this.reading = null;
    });
    this.reading = { startedAt, done };
    return done;
  }

  private async readChecked(startedAt: number): Promise<void> {
    const stored = await this.reads.newestCheckpoint();
    if (stored !== null && stored.size > (this.seen?.size ?? -1)) {
      // Checked before it is served, even when the tree is ahead of it (a replica behind it):
      // a checkpoint another signer made, or a root that is not the tree's, is never served.
      await this.exclusive(async () => {
        if (stored.size > (this.newest?.size ?? -1)) await this.refresh(this.reads, stored);
        this.verify(this.tree, stored);
      });
      if (stored.size > (this.seen?.size ?? -1)) this.seen = stored;
    }
    // `seen` is now at least what `reads` held when the read began.
    this.seenAt = Math.max(this.seenAt, startedAt);
  }

  inclusionProof(index: number, size: number): Uint8Array[] {
    return this.tree.inclusionProof(index, size);
  }

  consistencyProof(from: number, to: number): Uint8Array[] {
    return this.tree.consistencyProof(from, to);
  }

  /**
   * The leaves `start` to `end − 1` as the events table holds them (`reads`', or with `primary` the
   * database's), each checked against the tree: a leaf whose event was changed behind the
   * registry's back is never served as its own.
   */
  async leaves(start: number, end: number, primary = false): Promise<Uint8Array[]> {
    const events = await (primary ? this.store : this.reads).eventsByLeaf(start, end);
    return events.map((event, i) => {
      const leaf = leafOf(event);
      if (event.leaf !== start + i) throw changedHistory(`leaf ${start + i} has no event`);
      if (!same(leafHash(leaf), this.tree.leafHash(event.leaf))) {
        throw changedHistory(`event ${event.sequence} is not leaf ${event.leaf} of the log`);
      }
      return leaf;
    });
  }

  /**
   * One pass of the integrator: the events from the tree's size on, their leaf hashes appended in
   * leaf order, and a checkpoint signed and stored with the hashes from the newest stored
   * checkpoint's size (at most LOG_PAGE_LIMIT of them). Leaves a failed pass appended wait in the
   * tree for the next; a pass another server's integrator stored meanwhile is taken as the start
   * (its root checked against the tree's). Without a checkpoint yet, one of the log as it is (the
   * empty one, at first). Returns the number of leaves the new checkpoint adds.
   */
  integrate(now: Date): Promise<number> {
    return this.exclusive(async () => {
      await this.refresh(this.store);
      const start = this.newest?.size ?? 0;
      const end = start + LOG_PAGE_LIMIT;
      if (this.tree.size < end) {
        const from = this.tree.size;
        const events = await this.store.eventsByLeaf(from, end);
        for (const [i, event] of events.entries()) {
          if (event.leaf !== from + i) throw changedHistory(`leaf ${from + i} has no event`);
          this.tree.append(leafHash(leafOf(event)));
        }
      }
      const size = Math.min(this.tree.size, end);
      if (size === start && this.newest !== null) return 0;
      const hashes: Uint8Array[] = [];
      for (let leaf = start; leaf < size; leaf++) hashes.push(this.tree.leafHash(leaf));
      const checkpoint = this.sign(size, now);
      // Stored, it is the newest from before the storing began: none past `start` was stored then.
      const storing = this.clock();
      await this.store.appendLog({ start, hashes, checkpoint });
      this.newest = checkpoint;
      // A replica serves it once it has replayed it, not before.
      if (this.reads === this.store) {
        this.seen = checkpoint;
        this.seenAt = Math.max(this.seenAt, storing);
      }
      return size - start;
    });
  }

  private sign(size: number, now: Date): StoredCheckpoint {
    const { origin, privateKey } = this.key;
    const root = this.tree.root(size);
    const at = now.toISOString();
    const note = signNote(checkpointText({ origin, size, root, time: at }), origin, privateKey);
    return { size, root, note, at };
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.turn.then(task, task);
    this.turn = run.catch(() => {});
    return run;
  }

  /** The whole tree from the stored hashes, held to the newest checkpoint. */
  private async load(): Promise<void> {
    const reading = this.clock();
    const newest = await this.store.newestCheckpoint();
    const tree = new MerkleTree();
    await this.appendStored(tree, newest, this.store);
    this.tree = tree;
    this.newest = newest;
    if (this.reads === this.store) {
      this.seen = newest;
      this.seenAt = reading;
    }
  }

  /**
   * The tree extended to the newest checkpoint `from` holds (another server's integrator may have
   * moved it), or to `read`, one just read from it; a replica's is one the database held, so its
   * hashes are the tree's own.
   */
  private async refresh(from: RegistryStore, read?: StoredCheckpoint): Promise<void> {
    const newest = read ?? (await from.newestCheckpoint());
    if (newest === null || newest.size <= (this.newest?.size ?? -1)) return;
    await this.appendStored(this.tree, newest, from);
    this.newest = newest;
  }

  /**
   * Appends the stored hashes from the tree's size to the checkpoint's (none when the tree is
   * ahead), then checks the checkpoint's signature and its root against the tree's.
   */
  private async appendStored(
    tree: MerkleTree,
    checkpoint: StoredCheckpoint | null,
    from: RegistryStore,
  ): Promise<void> {
    const size = checkpoint?.size ?? 0;
    while (tree.size < size) {
      const hashes = await from.logHashes(tree.size, Math.min(size, tree.size + LOG_PAGE_LIMIT));
      if (hashes.length === 0) {
        throw changedHistory(`its stored leaf hashes end at ${tree.size}, before its checkpoint of ${size}`);
      }
      for (const hash of hashes) tree.append(hash);
    }
    // Hashes past the newest checkpoint were never part of one: only a hand, not the integrator,
    // puts them there. Unless another server's pass stored them meanwhile, with its checkpoint.
    if ((await from.logHashes(size, size + 1)).length > 0) {
      const now = await from.newestCheckpoint();
      if ((now?.size ?? 0) <= size) {
        throw changedHistory(`it holds leaf hashes past its newest checkpoint of ${size}`);
      }
    }
    if (checkpoint !== null) this.verify(tree, checkpoint);
  }

  private verify(tree: MerkleTree, checkpoint: StoredCheckpoint): void {
    let signed: ReturnType<typeof parseCheckpoint>;
    try {
      signed = parseCheckpoint(openNote(checkpoint.note, this.verifier));
    } catch (error) {
      if (!(error instanceof ReidError)) throw error;
      throw changedHistory(
        `its checkpoint of ${checkpoint.size} is not one this registry signed: ${error.message}`,
      );
    }
    const held =
      signed.origin === this.key.origin &&
      signed.size === checkpoint.size &&
      same(signed.root, checkpoint.root) &&
      same(tree.root(checkpoint.size), signed.root);
    if (!held)
      throw changedHistory(`its leaves are not the ones its checkpoint of ${checkpoint.size} signed`);
  }
}

function changedHistory(what: string): ReidError {
  return registryCorrupt(`the identity log's history was changed in the database: ${what}`);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
