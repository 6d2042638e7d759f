import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { AuditLog } from "../../src/audit/audit-log.js";
import {
  ControlUnit,
  type LifecycleListener,
  type OutgoingIdentifier,
} from "../../src/element/control-unit.js";
import { openElement } from "../../src/element/element.js";
import { ProcessingUnit } from "../../src/element/processing-unit.js";
import type { Notification } from "../../src/element/request.js";
import { openRandomSupply, SUPPLY_PROFILES } from "../../src/entropy/open.js";
import { OsSource } from "../../src/entropy/os-source.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { EntropyError, ExitCode, StateError, StorageError } from "../../src/errors.js";
import type { CommitOptions, IdentifierStore } from "../../src/storage/identifier-store.js";
import type { IdentifierRecord } from "../../src/storage/record.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const CLOCK = () => new Date("2026-01-02T03:04:05.000Z");

/** The real pipeline over a real file store, with every committed record observed (as digests). */
async function pipeline(
  t: import("node:test").TestContext,
  source: EntropySource = new OsSource(),
  audited = false,
) {
  const { store: directory } = tempDir(t);
  const inner = await openFileStore(directory, { write: true, lockTimeoutMs: 1000 });
  const commits: { generation: number; state: string; digest: string | null }[] = [];
  let failNext: Error | null = null;
  const store: IdentifierStore = {
    directory: inner.directory,
    description: inner.description,
    capacity: inner.capacity,
    sealingKeyId: inner.sealingKeyId,
    journalCapacity: inner.journalCapacity,
    info: () => inner.info(),
    load: () => inner.load(),
    journal: () => inner.journal(),
    close: () => inner.close(),
    async commit(next: IdentifierRecord, options?: CommitOptions) {
      if (failNext) {
        const error = failNext;
        failNext = null;
        throw error;
      }
      const digest = next.identifier ? createHash("sha256").update(next.identifier).digest("hex") : null;
      commits.push({ generation: next.generation, state: next.state, digest });
      return inner.commit(next, options);
    },
  };
  const supply = openRandomSupply(source, SUPPLY_PROFILES.identifier);
  const control = new ControlUnit(store, new ProcessingUnit(store, async () => supply.fifo), {
    sourceName: source.name,
    now: CLOCK,
    ...(audited ? { audit: new AuditLog(directory) } : {}),
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

test("requests follow docs/spec.md §2.2: init, reset, erase and their conflicts", async (t) => {
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
  const { control, commits, notifications } = await pipeline(t, stuck, true);
  const error = await control.submit({ type: "init" }).catch((e: unknown) => e);
  assert.ok(error instanceof EntropyError);
  assert.equal(error.exitCode, ExitCode.entropy);
  assert.match(error.message, /repetition count test/);
  assert.deepEqual(commits, []);
  assert.deepEqual(notifications, []);
  assert.equal((await control.status()).state, "blank");
  // Refused before its intent, on a store not made yet: the log does not make it (docs/spec.md §9.3).
  assert.deepEqual((await control.auditLog()).records, []);
});

test("a health test that trips on a set store: the reset is one record, its refusal, with no intent", async (t) => {
  const os = new OsSource();
  let stuck = false;
  const source: EntropySource = {
    name: "sticking",
    minEntropy: os.minEntropy,
    fill: async (target) => (stuck ? void target.fill(0x42) : os.fill(target)),
    close: () => os.close(),
  };
  const { control, commits } = await pipeline(t, source, true);
  await control.submit({ type: "init" });
  stuck = true;
  // The FIFO still holds good bytes for a while: resets go through until it draws on the source.
  let error: unknown;
  for (let i = 0; i < 10_000 && error === undefined; i++) {
    error = await control.submit({ type: "reset" }).then(
      () => undefined,
      (e: unknown) => e,
    );
  }
  assert.ok(error instanceof EntropyError, `no refusal: ${String(error)}`);
  const generation = commits.length;
  assert.equal((await control.status()).generation, generation);
  // The identifier is drawn before a journaled commit's intent: refused before the change, the
  // request is one record, a refusal with no intent (docs/spec.md §9.3); the resets before it are
  // their intents, shown ok.
  const { records, verdict } = await control.auditLog();
  assert.equal(verdict.intact, true);
  assert.deepEqual(
    records.slice(-2).map((r) => [r.request, r.outcome, r.generation, r.of]),
    [
      [generation === 1 ? "init" : "reset", "ok", generation, undefined],
      ["reset", error.code, generation, undefined],
    ],
  );
  const raw = new AuditLog(control.storeDirectory).read();
  assert.equal(raw.length, generation + 1, "one line a commit, one for the refusal");
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

const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A lifecycle listener that writes what it is told into `log`, and reads the outgoing identifier. */
function recorder(name: string, log: string[], read: string[]): LifecycleListener {
  return {
    name,
    async retire(outgoing) {
      read.push(await outgoing.read(digest));
      log.push(`${name}:retire:${outgoing.generation}`);
    },
    changed(after) {
      log.push(`${name}:changed:${after.generation}:${after.state}`);
    },
  };
}

test("lifecycle listeners are asked in order around every change; a failing one blocks neither the request nor the next", async (t) => {
  const { control, commits } = await pipeline(t, new OsSource(), true);
  const log: string[] = [];
  const firstRead: string[] = [];
  const secondRead: string[] = [];
  control.onLifecycle(recorder("first", log, firstRead));
  const stopFailing = control.onLifecycle({
    name: "failing",
    async retire() {
      log.push("failing:retire");
      throw new Error("the registry cannot be reached");
    },
    changed() {
      log.push("failing:changed");
      throw new Error("the registry cannot be reached");
    },
  });
  control.onLifecycle(recorder("second", log, secondRead));
  control.onNotification((n) => log.push(`notified:${n.generation}:${n.state}`));

  await control.submit({ type: "init" });
  assert.deepEqual(log.splice(0), [
    // A blank element has no outgoing identifier: nothing to retire.
    "first:changed:1:set",
    "failing:changed",
    "second:changed:1:set",
    "notified:1:set",
  ]);
  const reset = await control.submit({ type: "reset" });
  assert.equal(reset.generation, 2, "the failing listener did not block the reset");
  assert.deepEqual(log.splice(0), [
    "first:retire:1",
    "failing:retire",
    "second:retire:1",
    "first:changed:2:set",
    "failing:changed",
    "second:changed:2:set",
    "notified:2:set",
  ]);
  // Both read the outgoing identifier (generation 1), not the one that replaced it.
  assert.deepEqual(firstRead, [commits[0]?.digest]);
  assert.deepEqual(secondRead, [commits[0]?.digest]);
  assert.notEqual(commits[1]?.digest, commits[0]?.digest);

  stopFailing();
  await control.submit({ type: "erase" });
  assert.deepEqual(log.splice(0), [
    "first:retire:2",
    "second:retire:2",
    "first:changed:2:blank",
    "second:changed:2:blank",
    "notified:2:blank",
  ]);
  assert.deepEqual(secondRead, [commits[0]?.digest, commits[1]?.digest]);

  // The audit log says which listener failed, and only when one did.
  const { records } = await control.auditLog();
  assert.deepEqual(
    records.map((r) => [r.request, r.outcome, r.detail ?? null]),
    [
      ["init", "ok", { listenerFailures: "failing:changed" }],
      ["reset", "ok", { listenerFailures: "failing:retire,failing:changed" }],
      ["erase", "ok", null],
    ],
  );
});

test("the outgoing identifier is read only while it is being retired", async (t) => {
  const { control } = await pipeline(t);
  const kept: { read?: OutgoingIdentifier["read"] } = {};
  const during: string[] = [];
  control.onLifecycle({
    name: "keeper",
    async retire(outgoing) {
      during.push(await outgoing.read(digest));
      kept.read = outgoing.read;
    },
  });
  await control.submit({ type: "init" });
  await control.submit({ type: "reset" });
  assert.equal(during.length, 1);
  assert.match(during[0] ?? "", /^[0-9a-f]{64}$/);
  assert.ok(kept.read);
  const late = await kept.read(digest).then(
    () => assert.fail("the outgoing identifier was read after the reset"),
    (e: unknown) => e,
  );
  assert.ok(late instanceof StateError);
  assert.equal(late.code, "retired");
});

test("a throwing listener of notifications or binding events stops neither the request nor the others", async (t) => {
  const { control, notifications } = await pipeline(t);
  control.onNotification(() => {
    throw new Error("a broken follower");
  });
  const after: number[] = [];
  control.onNotification((n) => after.push(n.generation));
  assert.equal((await control.submit({ type: "init" })).generation, 1);
  assert.deepEqual([notifications.length, after], [1, [1]]);
  const events: string[] = [];
  control.onBindingEvent(() => {
    throw new Error("a broken follower");
  });
  control.onBindingEvent((e) => events.push(e.event));
  control.announce({ event: "bound", role: "device", peer: "0".repeat(32), time: CLOCK().toISOString() });
  assert.deepEqual(events, ["bound"]);
});
