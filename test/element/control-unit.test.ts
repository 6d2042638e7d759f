import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { ControlUnit } from "../../src/element/control-unit.js";
import { openElement } from "../../src/element/element.js";
import { ProcessingUnit } from "../../src/element/processing-unit.js";
import type { Notification } from "../../src/element/request.js";
import { openRandomSupply, SUPPLY_PROFILES } from "../../src/entropy/open.js";
import { OsSource } from "../../src/entropy/os-source.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { EntropyError, ExitCode, StateError, StorageError } from "../../src/errors.js";
import { openFileStore } from "../../src/storage/file/open-file-store.js";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import type { IdentifierRecord } from "../../src/storage/record.js";
import { tempDir } from "../helpers/temp.js";

const CLOCK = () => new Date("2026-01-02T03:04:05.000Z");

/** The real pipeline over a real file store, with every committed record observed (as digests). */
async function pipeline(t: import("node:test").TestContext, source: EntropySource = new OsSource()) {
  const { store: directory } = tempDir(t);
  const inner = await openFileStore(directory, { write: true, lockTimeoutMs: 1000 });
  const commits: { generation: number; state: string; digest: string | null }[] = [];
  let failNext: Error | null = null;
  const store: IdentifierStore = {
    location: inner.location,
    capacity: inner.capacity,
    sealingKeyId: inner.sealingKeyId,
    info: () => inner.info(),
    load: () => inner.load(),
    close: () => inner.close(),
    async commit(next: IdentifierRecord) {
      if (failNext) {
        const error = failNext;
        failNext = null;
        throw error;
      }
      const digest = next.identifier ? createHash("sha256").update(next.identifier).digest("hex") : null;
      commits.push({ generation: next.generation, state: next.state, digest });
      return inner.commit(next);
    },
  };
  const supply = openRandomSupply(source, SUPPLY_PROFILES.identifier);
  const control = new ControlUnit(store, new ProcessingUnit(store, async () => supply.fifo), {
    sourceName: source.name,
    now: CLOCK,
  });
  const notifications: Notification[] = [];
  control.onNotification((n) => notifications.push(n));
  t.after(async () => {
    await supply.close();
    await store.close();
  });
  return { control, commits, notifications, failNextCommit: (error: Error) => (failNext = error) };
}

async function stateErrorOf(promise: Promise<unknown>): Promise<StateError> {
  const error = await promise.then(
    () => assert.fail("expected a state conflict"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof StateError);
  assert.equal(error.exitCode, ExitCode.state);
  return error;
}

test("requests follow SPEC section 2: init, reset, erase and their conflicts", async (t) => {
  const { control, commits } = await pipeline(t);
  assert.equal((await control.status()).state, "blank");
  assert.equal((await stateErrorOf(control.submit({ type: "erase" }))).code, "already-blank");
  const init = await control.submit({ type: "init" });
  assert.deepEqual(
    { request: init.request, state: init.state, generation: init.generation },
    { request: "init", state: "set", generation: 1 },
  );
  assert.equal((await stateErrorOf(control.submit({ type: "init" }))).code, "already-initialized");
  assert.equal((await control.submit({ type: "reset" })).generation, 2);
  const erased = await control.submit({ type: "erase" });
  assert.deepEqual([erased.state, erased.generation], ["blank", 2]);
  const reborn = await control.submit({ type: "reset", format: { kind: "digits", length: 40 } });
  assert.deepEqual([reborn.state, reborn.generation], ["set", 3]);
  assert.equal((await control.status()).format, "digits:40");
  assert.equal((await stateErrorOf(control.submit({ type: "init" }))).code, "already-initialized");
  assert.equal((await control.submit({ type: "reset" })).generation, 4);
  assert.equal((await control.status()).format, "digits:40", "a reset keeps the chosen format");
  assert.deepEqual(
    commits.map((c) => [c.generation, c.state]),
    [
      [1, "set"],
      [2, "set"],
      [2, "blank"],
      [3, "set"],
      [4, "set"],
    ],
    "refused requests committed nothing",
  );
});

test("single-type mode carries out every request as a reset", async (t) => {
  const { control } = await pipeline(t);
  await control.setSingleType(true);
  assert.equal((await control.status()).requests, "single-type");
  const first = await control.submit({ type: "erase" });
  assert.deepEqual(
    [first.request, first.requested, first.state, first.generation],
    ["reset", "erase", "set", 1],
  );
  const second = await control.submit({ type: "init" });
  assert.deepEqual([second.request, second.requested, second.generation], ["reset", "init", 2]);
  await control.setSingleType(false);
  assert.equal((await stateErrorOf(control.submit({ type: "init" }))).code, "already-initialized");
});

test("every finished request notifies with type, generation, handle and time; refused ones do not", async (t) => {
  const { control, notifications } = await pipeline(t);
  await control.submit({ type: "init" });
  await control.submit({ type: "init" }).catch(() => undefined);
  const { handle } = await control.status();
  assert.match(handle ?? "", /^[0-9a-f]{32}$/, "a set element has a handle");
  await control.submit({ type: "erase" });
  assert.deepEqual(notifications, [
    {
      request: "init",
      requested: "init",
      state: "set",
      mode: "random",
      generation: 1,
      handle,
      time: CLOCK().toISOString(),
    },
    {
      request: "erase",
      requested: "erase",
      state: "blank",
      mode: "random",
      generation: 1,
      handle: null,
      time: CLOCK().toISOString(),
    },
  ]);
});

test("concurrent callers are serialized: 64 parallel resets give generations 1..64, none lost", async (t) => {
  const { control, commits } = await pipeline(t);
  const results = await Promise.all(Array.from({ length: 64 }, () => control.submit({ type: "reset" })));
  assert.deepEqual(
    results.map((n) => n.generation).sort((a, b) => a - b),
    Array.from({ length: 64 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    commits.map((c) => c.generation),
    Array.from({ length: 64 }, (_, i) => i + 1),
  );
  assert.equal((await control.status()).generation, 64);
});

test("10,000 consecutive resets: every identifier distinct, generation exactly +1 each time", async (t) => {
  const { control, commits } = await pipeline(t);
  for (let i = 1; i <= 10_000; i++) {
    const n = await control.submit({ type: "reset" });
    if (n.generation !== i) assert.fail(`reset ${i} gave generation ${n.generation}`);
  }
  assert.equal(commits.length, 10_000);
  for (const [i, c] of commits.entries()) assert.equal(c.generation, i + 1);
  assert.equal(new Set(commits.map((c) => c.digest)).size, 10_000, "an identifier repeated");
});

test("a tripped health test refuses the request before anything is written", async (t) => {
  const stuck: EntropySource = {
    name: "stuck",
    minEntropy: 4,
    fill: async (target) => void target.fill(0x42),
    close: async () => undefined,
  };
  const { control, commits, notifications } = await pipeline(t, stuck);
  const error = await control.submit({ type: "init" }).catch((e: unknown) => e);
  assert.ok(error instanceof EntropyError);
  assert.equal(error.exitCode, ExitCode.entropy);
  assert.match(error.message, /repetition count test/);
  assert.deepEqual(commits, []);
  assert.deepEqual(notifications, []);
  assert.equal((await control.status()).state, "blank");
});

test("a storage failure refuses the request, emits nothing and leaves the element as it was", async (t) => {
  const { control, notifications, failNextCommit } = await pipeline(t);
  await control.submit({ type: "init" });
  failNextCommit(new StorageError("cannot write area-1: input/output error (EIO)"));
  const error = await control.submit({ type: "reset" }).catch((e: unknown) => e);
  assert.ok(error instanceof StorageError);
  assert.equal(notifications.length, 1);
  assert.equal((await control.status()).generation, 1);
  assert.equal((await control.submit({ type: "reset" })).generation, 2, "the element recovers");
});

test("openElement holds the store: status reads it, and erase never starts the entropy source", async (t) => {
  const { store } = tempDir(t);
  const open = (
    write: boolean,
    source = { kind: "device", path: "/nonexistent/rng", minEntropy: 4 } as const,
  ) => openElement({ storeDirectory: store, source, write, lockTimeoutMs: 1000, now: CLOCK });
  const writer = await open(true, { kind: "os" } as never);
  await writer.control.submit({ type: "init" });
  await writer.close();
  // A source that cannot even be opened: erase and status must not touch it.
  const eraser = await open(true);
  assert.equal((await eraser.control.submit({ type: "erase" })).state, "blank");
  assert.equal((await eraser.control.status()).source, "device:/nonexistent/rng");
  const refused = await eraser.control.submit({ type: "init" }).catch((e: unknown) => e);
  assert.ok(refused instanceof EntropyError, "init did need the source");
  await eraser.close();
});
