// The status read of a store no daemon serves (src/element/status-read.ts) composes only the
// store's read side, and must answer exactly as the composed element does, whatever the store
// keeps beside its record: a PIN with wrong tries, a schedule, single-type mode, a sealing key.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ElementStatus } from "../../src/element/api.js";
import { type ElementOptions, openElement } from "../../src/element/element.js";
import { ElementService } from "../../src/element/service.js";
import { openStatusReader } from "../../src/element/status-read.js";
import { AuthError, StorageError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const PIN = "4711-owner";
const NOW = () => new Date("2026-03-01T10:00:00Z");

/** The status as the composed element answers it (read-only, as the CLI opened it). */
async function elementAnswer(options: Omit<ElementOptions, "write">, pin?: string): Promise<ElementStatus> {
  const service = new ElementService(await openElement({ ...options, write: false }));
  try {
    return await service.as({ principal: "cli", credentials: pin ? { pin } : {} }).status();
  } finally {
    await service.close();
  }
}

/** The status as the store's read side answers it. */
async function readAnswer(options: Omit<ElementOptions, "write">, pin?: string): Promise<ElementStatus> {
  const reader = await openStatusReader(options);
  try {
    return await reader.status(pin ? { pin } : {});
  } finally {
    await reader.close();
  }
}

test("a store with a PIN, wrong tries, a schedule and single-type mode: the read answers as the element", async (t) => {
  const { store } = tempDir(t);
  const options = { storeDirectory: store, lockTimeoutMs: 1000, now: NOW };
  const writer = new ElementService(await openElement({ ...options, source: { kind: "os" }, write: true }));
  await writer.setPin(PIN);
  const owner = writer.as({ principal: "cli", credentials: { pin: PIN } });
  await owner.submit("init");
  await owner.schedule("reset", "digits:40", "2030-01-01T00:00:00Z", true);
  await owner.setSingleType(true);
  const refused = await writer
    .as({ principal: "cli", credentials: { pin: "not the pin" } })
    .submit("reset")
    .catch((error: unknown) => error);
  assert.ok(refused instanceof AuthError && refused.code === "wrong-pin", String(refused));
  await writer.close();

  const read = await readAnswer(options);
  assert.deepEqual(read, await elementAnswer(options));
  // What was set up shows: the comparison is not of two empty answers.
  assert.equal(read.state, "set");
  assert.deepEqual(read.owner, {
    pin: true,
    failures: 1,
    locked: false,
    passkeysBypassLockout: false,
    unlockedUntil: null,
  });
  assert.equal(read.requests, "single-type");
  assert.equal(read.scheduled.length, 1);
  assert.equal(read.scheduled[0]?.format, "digits:40");
  assert.equal(read.scheduled[0]?.unlinkable, true);
});

test("a sealed store: the read names the key as the element does, with the key and without it", async (t) => {
  const { store } = tempDir(t);
  const kek = randomBytes(32);
  const options = { storeDirectory: store, lockTimeoutMs: 1000, now: NOW };
  const writer = new ElementService(
    await openElement({ ...options, source: { kind: "os" }, write: true, kek: Uint8Array.from(kek) }),
  );
  await writer.submit("init");
  await writer.seal();
  await writer.close();

  const withKey = { ...options, kek: Uint8Array.from(kek) };
  const read = await readAnswer(withKey);
  assert.deepEqual(read, await elementAnswer({ ...options, kek: Uint8Array.from(kek) }));
  assert.equal(read.sealed, true);
  assert.equal(read.sealingKeyHome, "kek");
  assert.match(read.sealingKey ?? "", /^[0-9a-f]{16}$/);
  // Status never needs the key: store.json names it.
  assert.deepEqual(await readAnswer(options), await elementAnswer(options));
  assert.equal((await readAnswer(options)).sealingKey, read.sealingKey);
});

test("what the read cannot read it reports as the element does: a corrupt schedule is store-corrupt", async (t) => {
  const { store } = tempDir(t);
  const options = { storeDirectory: store, lockTimeoutMs: 1000, now: NOW };
  const writer = new ElementService(await openElement({ ...options, source: { kind: "os" }, write: true }));
  await writer.submit("init");
  await writer.close();
  writeFileSync(join(store, "schedule.json"), "{not json", { mode: 0o600 });

  const byElement = await elementAnswer(options).catch((error: unknown) => error);
  const byRead = await readAnswer(options).catch((error: unknown) => error);
  assert.ok(byRead instanceof StorageError, String(byRead));
  assert.equal(byRead.code, "store-corrupt");
  assert.ok(byElement instanceof StorageError);
  assert.equal(byRead.message, byElement.message);
});

test("the read holds the store's lock while it reads, as the element does: a second one waits, then says busy", async (t) => {
  const { store } = tempDir(t);
  const options = { storeDirectory: store, lockTimeoutMs: 1000, now: NOW };
  const writer = new ElementService(await openElement({ ...options, source: { kind: "os" }, write: true }));
  await writer.submit("init");
  try {
    const busy = await openStatusReader({ ...options, lockTimeoutMs: 50 }).catch((error: unknown) => error);
    assert.ok(busy instanceof StorageError, String(busy));
    assert.equal(busy.code, "store-busy");
  } finally {
    await writer.close();
  }
  const reader = await openStatusReader(options);
  await reader.close();
});
