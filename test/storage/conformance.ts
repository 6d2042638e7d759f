import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ExitCode, StateError, StorageError } from "../../src/errors.js";
import type { IdentifierFormat } from "../../src/format/format.js";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import { AREA_SIZE, decodeArea, type IdentifierRecord, isZero } from "../../src/storage/record.js";
import { assertSameSecret, containsBytes } from "../helpers/secret.js";
import { encodeRecordV1 } from "./record-v1.js";

/** One fresh, never-used store location of a backend, and raw access to what it holds. */
export interface StoreFixture {
  /** The store directory. */
  readonly directory: string;
  open(options?: { lockTimeoutMs?: number }): Promise<IdentifierStore>;
  /**
   * The same place opened from another store directory: for a TPM the same index, for files a copy
   * of this store's area files under another store's store.json. With `claim`, opened as the
   * daemon opens it (the record read at once).
   */
  openElsewhere(options?: { claim?: boolean }): Promise<IdentifierStore>;
  /** Every byte the backend holds for this store, bypassing the store (to scan for secrets). */
  raw(): Promise<Uint8Array[]>;
  /** Overwrites area `index` behind the store's back (a torn write, a bit flip, an attacker). */
  damage(index: 0 | 1, bytes: Uint8Array): Promise<void>;
  /** The raw bytes of area `index`. */
  area(index: 0 | 1): Promise<Uint8Array>;
}

export interface StoreBackend {
  readonly name: string;
  /**
   * The backend seals identifiers under a key-encryption key: its raw bytes must never hold a
   * committed identifier in clear, the live one included (a plain backend's scan finds the live one).
   */
  readonly sealed?: boolean;
  /** A new fixture; the backend cleans up when the test ends. */
  fixture(t: import("node:test").TestContext): Promise<StoreFixture>;
}

const RAW32: IdentifierFormat = { kind: "raw", length: 32 };

/** A set record of `generation` holding a raw 32-byte identifier (fresh unless given). */
export function setRecord(generation: number, identifier = randomBytes(32)): IdentifierRecord {
  return { state: "set", generation, format: RAW32, singleType: false, handle: handle(), identifier };
}

/** Stores keep the handle they are given; any 16 bytes in hex will do here. */
function handle(): string {
  return randomBytes(16).toString("hex");
}

async function withStore<T>(fixture: StoreFixture, task: (store: IdentifierStore) => Promise<T>): Promise<T> {
  const store = await fixture.open();
  try {
    return await task(store);
  } finally {
    await store.close();
  }
}

/** Which area holds the current record: the one that is not all zeros, when exactly one is. */
async function currentArea(fixture: StoreFixture): Promise<0 | 1> {
  const [a0, a1] = [await fixture.area(0), await fixture.area(1)];
  assert.ok(isZero(a0) !== isZero(a1), "after a clean commit exactly one area holds a record");
  return isZero(a0) ? 1 : 0;
}

/**
 * A scan of every byte the backend holds for `identifier`: a plain backend must show the live
 * identifier (which proves the scan can find it), a sealed one must not show it anywhere.
 */
async function assertLiveScan(
  backend: StoreBackend,
  fixture: StoreFixture,
  identifier: Uint8Array,
): Promise<void> {
  const found = (await fixture.raw()).some((bytes) => containsBytes(bytes, identifier));
  if (backend.sealed) assert.ok(!found, "a sealed store holds its live identifier in clear");
  else assert.ok(found, "the scan does not find the live identifier");
}

/**
 * The IdentifierStore contract, run against every backend. A backend passes only if reads never
 * return a torn or corrupt record as an identifier, commits are all-or-nothing, superseded
 * identifiers leave no bytes behind, and writers are exclusive.
 */
export function describeIdentifierStore(backend: StoreBackend): void {
  describe(`IdentifierStore conformance: ${backend.name}`, () => {
    test("a store never committed to is blank at generation 0 and holds nothing", async (t) => {
      const fixture = await backend.fixture(t);
      const record = await withStore(fixture, (store) => store.load());
      assert.equal(record.state, "blank");
      assert.equal(record.generation, 0);
      assert.equal(record.identifier, null);
      const raw = await fixture.raw();
      assert.ok(raw.every(isZero), "loading an empty store writes nothing");
    });

    test("a commit reads back, also after the store is closed and reopened", async (t) => {
      const fixture = await backend.fixture(t);
      const identifier = randomBytes(32);
      await withStore(fixture, async (store) => {
        const stored = await store.commit(setRecord(1, Buffer.from(identifier)));
        assert.equal(stored.generation, 1);
        const again = await store.load();
        assertSameSecret(again.identifier, identifier);
      });
      await assertLiveScan(backend, fixture, identifier);
      const reopened = await withStore(fixture, (store) => store.load());
      assert.equal(reopened.state, "set");
      assert.equal(reopened.generation, 1);
      assert.deepEqual(reopened.format, RAW32);
      assertSameSecret(reopened.identifier, identifier);
    });

    test("info() is load() without the identifier, before and after commits and reopening", async (t) => {
      const fixture = await backend.fixture(t);
      await withStore(fixture, async (store) => {
        const fresh = await store.info();
        assert.deepEqual([fresh.state, fresh.generation], ["blank", 0]);
        assert.equal("identifier" in fresh, false, "info() carries no identifier");
        await store.commit(setRecord(1));
        await store.commit({ ...setRecord(2), singleType: true });
        const info = await store.info();
        const { identifier, ...loaded } = await store.load();
        identifier?.fill(0);
        assert.deepEqual(info, loaded);
        assert.deepEqual([info.state, info.generation, info.singleType], ["set", 2, true]);
      });
      const reopened = await withStore(fixture, (store) => store.info());
      assert.deepEqual([reopened.state, reopened.generation], ["set", 2]);
    });

    test("each commit replaces the last; the generation survives erase and never goes back", async (t) => {
      const fixture = await backend.fixture(t);
      await withStore(fixture, async (store) => {
        for (let generation = 1; generation <= 5; generation++) await store.commit(setRecord(generation));
        const erased = await store.commit({
          ...setRecord(5),
          state: "blank",
          handle: null,
          identifier: null,
        });
        assert.equal(erased.state, "blank");
        assert.equal((await store.load()).generation, 5);
        await assert.rejects(store.commit(setRecord(4)), RangeError, "a lower generation is refused");
        await store.commit(setRecord(6));
      });
      const record = await withStore(fixture, (store) => store.load());
      assert.equal(record.state, "set");
      assert.equal(record.generation, 6);
    });

    test("settings and formats are committed with the record", async (t) => {
      const fixture = await backend.fixture(t);
      const digits = Buffer.from("0123456789".repeat(4));
      await withStore(fixture, (store) =>
        store.commit({
          state: "set",
          generation: 1,
          format: { kind: "digits", length: 40 },
          singleType: true,
          handle: handle(),
          identifier: digits,
        }),
      );
      const record = await withStore(fixture, (store) => store.load());
      assert.deepEqual(record.format, { kind: "digits", length: 40 });
      assert.equal(record.singleType, true);
      assertSameSecret(record.identifier, digits);
      await assertLiveScan(backend, fixture, digits);
    });

    test("identifiers up to the capacity are held; the capacity fits a 32-byte raw identifier", async (t) => {
      const fixture = await backend.fixture(t);
      await withStore(fixture, async (store) => {
        assert.ok(store.capacity >= 32);
        const identifier = randomBytes(store.capacity);
        await store.commit({
          ...setRecord(1, Buffer.from(identifier)),
          format: { kind: "raw", length: store.capacity },
        });
        assertSameSecret((await store.load()).identifier, identifier);
        await assertLiveScan(backend, fixture, identifier);
      });
    });

    test("superseded and erased identifiers leave no bytes behind", async (t) => {
      const fixture = await backend.fixture(t);
      const identifiers = [randomBytes(32), randomBytes(32), randomBytes(32)];
      await withStore(fixture, async (store) => {
        for (const [i, identifier] of identifiers.entries()) {
          await store.commit(setRecord(i + 1, Buffer.from(identifier)));
        }
        let raw = await fixture.raw();
        for (const old of identifiers.slice(0, -1)) {
          assert.ok(
            !raw.some((bytes) => containsBytes(bytes, old)),
            "a superseded identifier is still stored",
          );
        }
        await assertLiveScan(backend, fixture, identifiers[2] as Buffer);
        await store.commit({ ...setRecord(3), state: "blank", handle: null, identifier: null });
        raw = await fixture.raw();
        for (const old of identifiers) {
          assert.ok(!raw.some((bytes) => containsBytes(bytes, old)), "an erased identifier is still stored");
        }
      });
    });

    test("a torn write in the other area leaves the current record in force, and the next commit repairs it", async (t) => {
      const fixture = await backend.fixture(t);
      const identifier = randomBytes(32);
      await withStore(fixture, async (store) => {
        await store.commit(setRecord(1));
        await store.commit(setRecord(2, Buffer.from(identifier)));
      });
      const current = await currentArea(fixture);
      const other = current === 0 ? 1 : 0;
      // A record of generation 3 cut short, as power loss mid-write would leave it.
      const torn = new Uint8Array(AREA_SIZE);
      torn.set((await fixture.area(current)).subarray(0, 100));
      torn[8] = 0xff;
      await fixture.damage(other, torn);
      await withStore(fixture, async (store) => {
        const record = await store.load();
        assert.equal(record.generation, 2);
        assertSameSecret(record.identifier, identifier);
        await store.commit(setRecord(3));
      });
      const record = await withStore(fixture, (store) => store.load());
      assert.equal(record.generation, 3);
      const raw = await fixture.raw();
      assert.ok(!raw.some((bytes) => containsBytes(bytes, identifier)), "the repair left the old identifier");
    });

    test("every single-byte corruption of the current record is caught, never returned as an identifier", async (t) => {
      const fixture = await backend.fixture(t);
      await withStore(fixture, (store) => store.commit(setRecord(1)));
      const index = await currentArea(fixture);
      const good = await fixture.area(index);
      for (const offset of [0, 4, 5, 6, 7, 8, 16, 24, 26, 32, 47, 48, 63, 79, 100, 107, 139, 223, 224, 255]) {
        const bad = Uint8Array.from(good);
        bad[offset] = (bad[offset] ?? 0) ^ 0x01;
        await fixture.damage(index, bad);
        const error = await withStore(fixture, (store) => store.load()).then(
          () => assert.fail(`corruption at offset ${offset} went unnoticed`),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StorageError, `offset ${offset}: ${String(error)}`);
        assert.equal(error.exitCode, ExitCode.storage);
        assert.match(error.message, /corrupt/);
      }
      await fixture.damage(index, good);
      assert.equal((await withStore(fixture, (store) => store.load())).generation, 1);
    });

    test("a corrupt store refuses commits and is left exactly as it was", async (t) => {
      const fixture = await backend.fixture(t);
      await withStore(fixture, (store) => store.commit(setRecord(1)));
      const index = await currentArea(fixture);
      const garbage = randomBytes(AREA_SIZE);
      await fixture.damage(index, garbage);
      const before = await fixture.raw();
      await withStore(fixture, async (store) => {
        await assert.rejects(store.commit(setRecord(2)), StorageError);
      });
      const after = await fixture.raw();
      assert.deepEqual(after, before, "a refused commit changed the store");
    });

    test("one writer at a time: a second opener waits for the first, or gives up with 'busy'", async (t) => {
      const fixture = await backend.fixture(t);
      const first = await fixture.open();
      const refused = await fixture.open({ lockTimeoutMs: 100 }).then(
        async (store) => {
          await store.close();
          return null;
        },
        (error: unknown) => error,
      );
      assert.ok(refused instanceof StorageError, "a second writer got in");
      assert.equal(refused.code, "store-busy");
      let opened = false;
      const waiting = fixture.open({ lockTimeoutMs: 10_000 }).then((store) => {
        opened = true;
        return store;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(opened, false, "the waiter got in while the first writer still held the store");
      await first.close();
      const second = await waiting;
      await second.commit(setRecord(1));
      await second.close();
    });

    test("another store directory naming the same place is refused (store-owned, exit 3), naming the owner", async (t) => {
      const fixture = await backend.fixture(t);
      const identifier = randomBytes(32);
      await withStore(fixture, (store) => store.commit(setRecord(1, Buffer.from(identifier))));
      const before = await fixture.raw();
      const other = await fixture.openElsewhere();
      try {
        const attempts: [string, () => Promise<unknown>][] = [
          ["info", () => other.info()],
          ["load", () => other.load()],
          ["commit", () => other.commit(setRecord(2))],
        ];
        for (const [what, attempt] of attempts) {
          const error = await attempt().then(
            () => assert.fail(`${what}() of another store went through`),
            (e: unknown) => e,
          );
          assert.ok(error instanceof StateError, `${what}: ${String(error)}`);
          assert.equal(error.code, "store-owned", what);
          assert.equal(error.exitCode, ExitCode.state, what);
          assert.ok(error.message.includes(`the store at ${fixture.directory}`), `${what}: ${error.message}`);
          assert.doesNotMatch(error.message, /\n/);
        }
      } finally {
        await other.close();
      }
      // Opened to serve, it is refused at once: nothing runs on another store's place.
      await assert.rejects(
        fixture.openElsewhere({ claim: true }),
        (e) => e instanceof StateError && e.code === "store-owned" && e.exitCode === ExitCode.state,
      );
      assert.deepEqual(await fixture.raw(), before, "the refused store changed the place");
      assertSameSecret((await withStore(fixture, (store) => store.load())).identifier, identifier);
    });

    test("a record of layout v1 (no store id) still reads, and the first commit makes it this store's", async (t) => {
      const fixture = await backend.fixture(t);
      const identifier = randomBytes(32);
      // A sealed store refuses an identifier in clear: it finds a blank v1 record instead.
      const v1 = backend.sealed
        ? { ...setRecord(3), state: "blank" as const, handle: null, identifier: null }
        : setRecord(3, Buffer.from(identifier));
      await fixture.damage(0, encodeRecordV1(v1, 5));
      await fixture.damage(1, new Uint8Array(AREA_SIZE));
      await withStore(fixture, async (store) => {
        const record = await store.load();
        assert.deepEqual([record.state, record.generation, record.epoch], [v1.state, 3, 5]);
        if (!backend.sealed) assertSameSecret(record.identifier, identifier);
        await store.commit(setRecord(4));
      });
      const owned = decodeArea(await fixture.area(await currentArea(fixture)));
      assert.ok(owned.kind === "record" && owned.owner !== null, "the commit did not write the store id");
      const other = await fixture.openElsewhere();
      try {
        await assert.rejects(other.info(), (e) => e instanceof StateError && e.code === "store-owned");
      } finally {
        await other.close();
      }
    });
  });
}
