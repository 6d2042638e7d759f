import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { StorageError } from "../../src/errors.js";
import { AREA_FILE } from "../../src/storage/file/file-area.js";
import { AREA_SIZE } from "../../src/storage/record.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const RECORD = {
  state: "set",
  generation: 1,
  format: { kind: "raw", length: 32 },
  singleType: false,
  handle: "00112233445566778899aabbccddeeff",
  identifier: new Uint8Array(32).fill(7),
} as const;

test("file store: directory 0700 and area files 0600, whatever the umask", async (t) => {
  const { store } = tempDir(t);
  const previous = process.umask(0);
  try {
    const opened = await openFileStore(join(store, "nested"), { write: true, lockTimeoutMs: 1000 });
    await opened.commit({ ...RECORD, identifier: Uint8Array.from(RECORD.identifier) });
    await opened.close();
  } finally {
    process.umask(previous);
  }
  assert.equal(statSync(store).mode & 0o777, 0o700);
  assert.equal(statSync(join(store, "nested")).mode & 0o777, 0o700);
  for (const area of ["area-0", "area-1"]) {
    const stats = statSync(join(store, "nested", area));
    assert.equal(stats.mode & 0o777, 0o600);
    assert.equal(stats.size, AREA_FILE);
  }
});

test("file store: a read-only open of a missing store creates nothing", async (t) => {
  const { store } = tempDir(t);
  const opened = await openFileStore(store, { write: false, lockTimeoutMs: 1000 });
  assert.equal((await opened.load()).state, "blank");
  await opened.close();
  assert.throws(() => statSync(store), /ENOENT/);
});

test("file store: a directory open to other users is refused with the fix in the message", async (t) => {
  const { store } = tempDir(t);
  mkdirSync(store, { mode: 0o755 });
  const error = await openFileStore(store, { write: true, lockTimeoutMs: 1000 }).catch((e: unknown) => e);
  assert.ok(error instanceof StorageError);
  assert.match(error.message, /open to other users \(mode 0755\); run: chmod 700/);
});

test("file store: an interrupted first commit (area-1 alone, zeroed) counts as never committed", async (t) => {
  const { store } = tempDir(t);
  mkdirSync(store, { mode: 0o700 });
  writeFileSync(join(store, "area-1"), new Uint8Array(AREA_SIZE), { mode: 0o600 });
  const opened = await openFileStore(store, { write: true, lockTimeoutMs: 1000 });
  assert.equal((await opened.load()).generation, 0);
  await opened.commit({ ...RECORD, identifier: Uint8Array.from(RECORD.identifier) });
  assert.equal((await opened.load()).generation, 1);
  await opened.close();
});

test("file store: a missing area next to a record is damage, not a fresh start", async (t) => {
  for (const [keep, gone] of [
    ["area-0", "area-1"],
    ["area-1", "area-0"],
  ] as const) {
    const { store } = tempDir(t);
    const first = await openFileStore(store, { write: true, lockTimeoutMs: 1000 });
    await first.commit({ ...RECORD, identifier: Uint8Array.from(RECORD.identifier) });
    await first.commit({ ...RECORD, generation: 2, identifier: Uint8Array.from(RECORD.identifier) });
    await first.close();
    // Put the live record into `keep` and remove `gone`.
    const live = [readFileSync(join(store, "area-0")), readFileSync(join(store, "area-1"))].find((b) =>
      b.some((x) => x),
    );
    writeFileSync(join(store, keep), live as Buffer);
    const { rmSync } = await import("node:fs");
    rmSync(join(store, gone));
    const opened = await openFileStore(store, { write: true, lockTimeoutMs: 1000 });
    const error = await opened.load().catch((e: unknown) => e);
    await opened.close();
    assert.ok(error instanceof StorageError, `${gone} missing went unnoticed`);
    assert.match(error.message, new RegExp(`damaged: ${gone} is missing`));
  }
});

test("file store: an area file of the wrong size is corrupt, and a commit over it restores the size", async (t) => {
  const { store } = tempDir(t);
  const first = await openFileStore(store, { write: true, lockTimeoutMs: 1000 });
  await first.commit({ ...RECORD, identifier: Uint8Array.from(RECORD.identifier) });
  await first.close();
  // area-0 holds the record after the first commit; area-1 is the next target.
  writeFileSync(join(store, "area-1"), new Uint8Array(AREA_SIZE + 10).fill(1));
  const opened = await openFileStore(store, { write: true, lockTimeoutMs: 1000 });
  assert.equal((await opened.load()).generation, 1);
  await opened.commit({ ...RECORD, generation: 2, identifier: Uint8Array.from(RECORD.identifier) });
  await opened.close();
  assert.equal(statSync(join(store, "area-1")).size, AREA_SIZE);
});
