// Issue 3, part 4: the sealed storage area. With a key-encryption key, identifiers are stored
// sealed with AES-256-GCM, record bytes 0..63 (header with the generation, the handle, the store id) as
// associated data: a copy of the store reveals nothing, a wrong or missing key is a clear
// StorageError, and an edited record never opens to a wrong identifier. (The IdentifierStore
// conformance suite runs against the sealed file backend in file-store.test.ts.)
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { deriveHandle } from "../../src/derive/derivation.js";
import { openElement } from "../../src/element/element.js";
import { ExitCode, StorageError } from "../../src/errors.js";
import type { IdentifierFormat } from "../../src/format/format.js";
import { COMMIT_COUNTER_FILE } from "../../src/storage/file/commit-counter.js";
import { recordOfAreaFile } from "../../src/storage/file/file-area.js";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import {
  AREA_SIZE,
  type DecodedArea,
  decodeArea,
  type IdentifierRecord,
  isZero,
} from "../../src/storage/record.js";
import { AesGcmSealer, KEK_LENGTH, type Sealer } from "../../src/storage/sealer.js";
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const RAW32: IdentifierFormat = { kind: "raw", length: 32 };
/** Where the header fields of a record sit (src/storage/record.ts, layout v2). */
const AT = {
  format: 6,
  flags: 7,
  epochLow: 15,
  generationLow: 23,
  lengthLow: 25,
  handle: 32,
  storeId: 48,
  payload: 64,
};

function newKek(): Buffer {
  return randomBytes(KEK_LENGTH);
}

function sealerOf(kek: Uint8Array | null): Sealer | null {
  return kek ? new AesGcmSealer(kek) : null;
}

function openStore(directory: string, kek: Uint8Array | null, write = true): Promise<IdentifierStore> {
  return openFileStore(directory, { write, lockTimeoutMs: 5000, sealer: sealerOf(kek) });
}

async function withStore<T>(
  directory: string,
  kek: Uint8Array | null,
  task: (store: IdentifierStore) => Promise<T>,
  write = true,
): Promise<T> {
  const store = await openStore(directory, kek, write);
  try {
    return await task(store);
  } finally {
    await store.close();
  }
}

function setRecord(generation: number, identifier: Uint8Array, format = RAW32): IdentifierRecord {
  return {
    state: "set",
    generation,
    format,
    singleType: false,
    handle: randomBytes(16).toString("hex"),
    identifier: Buffer.from(identifier),
  };
}

function areaPath(directory: string, index: 0 | 1): string {
  return join(directory, `area-${index}`);
}

/** The records in the two area files (without the audit journal beside them). */
function areas(directory: string): [Buffer, Buffer] {
  const record = (index: 0 | 1) => Buffer.from(recordOfAreaFile(readFileSync(areaPath(directory, index))));
  return [record(0), record(1)];
}

/** The area holding the record after a clean commit (the other one is all zeros). */
function liveArea(directory: string): 0 | 1 {
  const [a0, a1] = areas(directory);
  assert.ok(isZero(a0) !== isZero(a1), "after a clean commit exactly one area holds a record");
  return isZero(a0) ? 1 : 0;
}

function decodeLive(directory: string): Extract<DecodedArea, { kind: "record" }> {
  const decoded = decodeArea(areas(directory)[liveArea(directory)]);
  assert.equal(decoded.kind, "record");
  return decoded as Extract<DecodedArea, { kind: "record" }>;
}

/** Whether either area file holds `secret` anywhere. */
function storeHolds(directory: string, secret: Uint8Array): boolean {
  return areas(directory).some((bytes) => containsBytes(bytes, secret));
}

/** Whether two lists of byte strings are equal (compared without ever printing a byte). */
function sameBytes(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((bytes, i) => Buffer.from(bytes).equals(b[i] ?? new Uint8Array(0)));
}

/** Writes a valid SHA-256 checksum over an edited record, so only the seal can notice the edit. */
function rechecksum(bytes: Uint8Array): Uint8Array {
  const body = AREA_SIZE - 32;
  bytes.set(createHash("sha256").update(bytes.subarray(0, body)).digest(), body);
  return bytes;
}

/** The error load() rejects with (a test failure if it returns a record). */
async function loadError(
  directory: string,
  kek: Uint8Array | null,
  what: string,
  options?: { acceptUnsealed?: boolean },
): Promise<StorageError> {
  const error = await withStore(directory, kek, (store) => store.load(options)).then(
    (record) => {
      record.identifier?.fill(0);
      return assert.fail(`${what}: load() returned a record (generation ${record.generation})`);
    },
    (e: unknown) => e,
  );
  assert.ok(error instanceof StorageError, `${what}: ${String(error)}`);
  assert.equal(error.exitCode, ExitCode.storage, what);
  return error;
}

/** A sealer that does not bind the associated data: the known-bad case the tamper checks must catch. */
class UnboundSealer implements Sealer {
  readonly overhead: number;
  readonly keyId: string;
  private readonly inner: AesGcmSealer;
  constructor(kek: Uint8Array) {
    this.inner = new AesGcmSealer(kek);
    this.overhead = this.inner.overhead;
    this.keyId = this.inner.keyId;
  }
  seal(plaintext: Uint8Array): Uint8Array {
    return this.inner.seal(plaintext, new Uint8Array(0));
  }
  open(sealed: Uint8Array): Uint8Array | null {
    return this.inner.open(sealed, new Uint8Array(0));
  }
}

const FORMATS: readonly IdentifierFormat[] = [
  { kind: "raw", length: 32 },
  { kind: "digits", length: 40 },
  { kind: "base32", length: 26 },
  { kind: "raw", length: 64 },
  { kind: "raw", length: 16 },
  { kind: "digits", length: 64 },
  { kind: "base32", length: 64 },
];

/** The element on `store`, opened for writing with key-encryption key `key` (or none). */
function openWithKey(store: string, key: Uint8Array | null) {
  return openElement({
    storeDirectory: store,
    source: { kind: "os" },
    write: true,
    lockTimeoutMs: 5000,
    kek: key,
  });
}

describe("sealed store", () => {
  test("after many resets through the element, no identifier it ever held is in the area files in clear", async (t: TestContext) => {
    const { store } = tempDir(t);
    const kek = newKek();
    const element = await openElement({
      storeDirectory: store,
      source: { kind: "os" },
      write: true,
      lockTimeoutMs: 5000,
      kek,
    });
    const seen: Buffer[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const format = FORMATS[i % FORMATS.length] as IdentifierFormat;
        const notification = await element.control.submit({ type: i === 0 ? "init" : "reset", format });
        assert.equal(notification.generation, i + 1);
        const identifier = await element.control.useIdentifier((id, record) => {
          assert.equal(record.generation, i + 1);
          assert.equal(record.handle, deriveHandle(id), "the unsealed identifier is not the one committed");
          return Buffer.from(id);
        });
        assert.equal(identifier.length, format.length);
        seen.push(identifier);
        const live = decodeLive(store);
        assert.equal(live.record.sealed, true, `reset ${i + 1}: the record is not sealed`);
        assert.equal(
          live.record.identifier,
          null,
          `reset ${i + 1}: the decoder found an identifier in clear`,
        );
        assert.equal(live.sealed?.payload.length, format.length + 28, "nonce, ciphertext and tag");
        for (const [n, old] of seen.entries()) {
          // The whole identifier, and each 16-byte piece of it.
          const pieces = [old, ...[0, 16, 32, 48].map((at) => old.subarray(at, at + 16))].filter(
            (piece) => piece.length === 16 || piece === old,
          );
          for (const piece of pieces) {
            assert.ok(!storeHolds(store, piece), `reset ${i + 1}: identifier #${n} (or a piece) is in clear`);
          }
        }
      }
      const status = await element.control.status();
      assert.deepEqual([status.state, status.generation, status.sealed], ["set", 60, true]);
    } finally {
      await element.close();
      kek.fill(0);
    }
    const distinct = new Set(seen.map((id) => createHash("sha256").update(id).digest("hex")));
    assert.equal(distinct.size, seen.length, "every reset made a new identifier");
  });

  test("the same scan finds the identifier of a store that does not seal (the scan works)", async (t) => {
    const { store } = tempDir(t);
    const identifier = randomBytes(32);
    await withStore(store, null, (s) => s.commit(setRecord(1, identifier)));
    assert.ok(storeHolds(store, identifier), "a plain store's identifier is not found");
    assert.ok(storeHolds(store, identifier.subarray(16, 32)), "a piece of it is not found");
    assert.equal(decodeLive(store).record.sealed, false);
  });

  describe("record bytes 0..63 are bound to the sealed identifier", () => {
    /** A store with a sealed record of generation 5 (epoch 5); returns the live area's bytes. */
    async function sealedStore(t: TestContext, sealer: Sealer) {
      const { store } = tempDir(t);
      const identifier = randomBytes(32);
      const s = await openFileStore(store, { write: true, lockTimeoutMs: 5000, sealer });
      try {
        for (let generation = 1; generation <= 4; generation++)
          await s.commit(setRecord(generation, randomBytes(32)));
        await s.commit(setRecord(5, identifier));
      } finally {
        await s.close();
      }
      const index = liveArea(store);
      return { store, identifier, index, good: Uint8Array.from(areas(store)[index]) };
    }

    const set = (offset: number, value: number) => (bytes: Uint8Array) => {
      bytes[offset] = value;
    };
    const flip = (offset: number, mask: number) => (bytes: Uint8Array) => {
      bytes[offset] = (bytes[offset] ?? 0) ^ mask;
    };
    const edits: [what: string, edit: (bytes: Uint8Array) => void][] = [
      ["generation 5 -> 4", set(AT.generationLow, 4)],
      ["generation 5 -> 6", set(AT.generationLow, 6)],
      ["generation + 2^8", set(AT.generationLow - 1, 1)],
      ["epoch 5 -> 4", set(AT.epochLow, 4)],
      ["epoch 5 -> 6", set(AT.epochLow, 6)],
      ["format raw -> digits", set(AT.format, 1)],
      ["format raw -> base32", set(AT.format, 2)],
      ["format length 32 -> 33", set(AT.lengthLow, 33)],
      ["flags: single-type on", flip(AT.flags, 1)],
      ["handle, first byte", flip(AT.handle, 0x01)],
      ["handle, last byte", flip(AT.handle + 15, 0x80)],
      ["handle swapped for another", (bytes) => bytes.set(randomBytes(16), AT.handle)],
      ["nonce", flip(AT.payload, 0x01)],
      ["ciphertext", flip(AT.payload + 20, 0x01)],
      ["tag", flip(AT.payload + 32 + 27, 0x01)],
    ];

    test("every header, handle or payload edit with the checksum recomputed fails with store-key-wrong", async (t) => {
      const kek = newKek();
      const { store, identifier, index, good } = await sealedStore(t, new AesGcmSealer(kek));
      assert.ok(
        sameBytes([rechecksum(Uint8Array.from(good))], [good]),
        "recomputing the checksum alone changes nothing",
      );
      for (const [what, edit] of edits) {
        const bad = Uint8Array.from(good);
        edit(bad);
        rechecksum(bad);
        assert.ok(!sameBytes([bad], [good]), `${what}: the edit changed nothing`);
        const decoded = decodeArea(bad);
        // Passes every structural check and the checksum: only the seal is left to notice.
        assert.equal(decoded.kind, "record", `${what}: ${decoded.kind === "corrupt" ? decoded.reason : ""}`);
        // The editor removes the counter's copy too (it would refuse a lower epoch first): the
        // seal alone is held to the edit.
        rmSync(join(store, COMMIT_COUNTER_FILE), { force: true });
        writeFileSync(areaPath(store, index), bad);
        const error = await loadError(store, kek, what);
        assert.equal(error.code, "store-key-wrong", `${what}: ${error.message}`);
        assert.match(error.message, /wrong key-encryption key \(or the record was altered\)/);
      }
      writeFileSync(areaPath(store, index), good);
      const record = await withStore(store, kek, (s) => s.load());
      assert.equal(record.generation, 5);
      assertSameSecret(record.identifier, identifier);
      kek.fill(0);
    });

    test("known-bad: a sealer that ignores the associated data lets the same edits through", async (t) => {
      // Proves the edits above reach the seal: with the header unbound, they open to a record
      // with the edited generation, epoch or handle. AES-GCM with bytes 0..63 refuses them.
      const kek = newKek();
      const sealer = new UnboundSealer(kek);
      const { store, identifier, index, good } = await sealedStore(t, sealer);
      const headerEdits = edits.filter(([what]) => /generation|epoch|handle|flags|format raw/.test(what));
      assert.ok(headerEdits.length >= 8);
      for (const [what, edit] of headerEdits) {
        const bad = Uint8Array.from(good);
        edit(bad);
        rmSync(join(store, COMMIT_COUNTER_FILE), { force: true });
        writeFileSync(areaPath(store, index), rechecksum(bad));
        const record = await withStore(store, null, (s) => s.load(), false).catch(() => null);
        // No key: refused. With the unbound sealer: the edited record opens.
        assert.equal(record, null, `${what}: a sealed record opened without a key`);
        const s = await openFileStore(store, { write: false, lockTimeoutMs: 5000, sealer });
        try {
          const opened = await s.load();
          assertSameSecret(opened.identifier, identifier, `${what}: identifier`);
          const edited = decodeArea(bad);
          assert.ok(edited.kind === "record");
          const { identifier: _, ...fields } = edited.record;
          const { identifier: __, ...loaded } = opened;
          assert.deepEqual(loaded, fields, `${what}: the edited fields came back`);
        } finally {
          await s.close();
        }
      }
      kek.fill(0);
    });

    test("clearing the sealed flag is caught: corrupt as it stands, refused as unsealed when the length is fixed up", async (t) => {
      const kek = newKek();
      const { store, index, good } = await sealedStore(t, new AesGcmSealer(kek));
      const cleared = Uint8Array.from(good);
      cleared[AT.flags] = (cleared[AT.flags] ?? 0) & ~2;
      writeFileSync(areaPath(store, index), rechecksum(cleared));
      const corrupt = await loadError(store, kek, "sealed flag cleared");
      assert.equal(corrupt.code, "store-corrupt");
      // The whole sealed payload posing as an identifier in clear (32 + 28 bytes).
      const posing = Uint8Array.from(cleared);
      posing[AT.lengthLow] = 60;
      writeFileSync(areaPath(store, index), rechecksum(posing));
      assert.equal(decodeArea(posing).kind, "record");
      const refused = await loadError(store, kek, "seal stripped");
      assert.equal(refused.code, "store-not-sealed");
    });
  });

  test("a wrong key-encryption key: store-key-wrong, nothing returned, nothing changed", async (t) => {
    const { store } = tempDir(t);
    const kek = newKek();
    const identifier = randomBytes(32);
    await withStore(store, kek, (s) => s.commit(setRecord(1, identifier)));
    const before = areas(store);
    for (const wrong of [
      newKek(),
      Buffer.from(kek).fill(0),
      Buffer.from(kek).map((b, i) => (i === 31 ? b ^ 1 : b)),
    ]) {
      assertDifferentSecret(wrong, kek, "key");
      for (const write of [true, false]) {
        const error = await withStore(store, wrong, (s) => s.load(), write).then(
          () => assert.fail("a wrong key opened the record"),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "store-key-wrong");
        assert.equal(error.exitCode, ExitCode.storage);
      }
    }
    assert.ok(sameBytes(areas(store), before), "a refused load changed the store");
    assertSameSecret((await withStore(store, kek, (s) => s.load())).identifier, identifier);
    kek.fill(0);
  });

  test("without the key, info() gives state, generation and handle; load() is store-key-missing", async (t) => {
    const { store } = tempDir(t);
    const kek = newKek();
    const record = { ...setRecord(3, randomBytes(32)), singleType: true };
    await withStore(store, kek, async (s) => {
      await s.commit(setRecord(1, randomBytes(32)));
      await s.commit(record);
    });
    for (const write of [false, true]) {
      await withStore(
        store,
        null,
        async (s) => {
          const info = await s.info();
          assert.deepEqual(
            [info.state, info.generation, info.handle, info.sealed, info.singleType, info.epoch],
            ["set", 3, record.handle, true, true, 2],
          );
          const error = await s.load().then(
            () => assert.fail("load() without the key returned a record"),
            (e: unknown) => e,
          );
          assert.ok(error instanceof StorageError);
          assert.equal(error.code, "store-key-missing");
          assert.match(
            error.message,
            /is sealed: give its key-encryption key with --kek-file or REID_KEK_FILE/,
          );
        },
        write,
      );
    }
    kek.fill(0);
  });

  test("a store copied to another directory: no identifier without the key, none in its files, the same one with it", async (t) => {
    const { store, dir } = tempDir(t);
    const kek = newKek();
    const identifier = randomBytes(32);
    const record = setRecord(1, identifier);
    await withStore(store, kek, (s) => s.commit(record));
    const copy = join(dir, "copy");
    cpSync(store, copy, { recursive: true, preserveTimestamps: true });
    for (const bytes of areas(copy)) {
      assert.ok(!containsBytes(bytes, identifier), "the copy holds the identifier in clear");
      assert.ok(
        !containsBytes(bytes, identifier.subarray(0, 12)),
        "the copy holds a piece of the identifier",
      );
    }
    const error = await loadError(copy, null, "the copy without a key");
    assert.equal(error.code, "store-key-missing");
    assert.ok(error.message.includes(copy), "the message names the store");
    const wrong = await loadError(copy, newKek(), "the copy under another key");
    assert.equal(wrong.code, "store-key-wrong");
    const info = await withStore(copy, null, (s) => s.info(), false);
    assert.equal(info.handle, record.handle);
    const opened = await withStore(copy, kek, (s) => s.load(), false);
    assertSameSecret(opened.identifier, identifier);
    kek.fill(0);
  });

  test("a store that seals keeps sealing: without the key no identifier is written, erase works, sealing stays", async (t) => {
    const { store } = tempDir(t);
    const kek = newKek();
    await withStore(store, kek, (s) => s.commit(setRecord(1, randomBytes(32))));
    const fresh = randomBytes(32);
    await withStore(store, null, async (s) => {
      const before = areas(store);
      const refused = await s.commit(setRecord(2, fresh)).catch((e: unknown) => e);
      assert.ok(refused instanceof StorageError, String(refused));
      assert.equal(refused.code, "store-key-missing");
      assert.ok(sameBytes(areas(store), before), "a refused commit changed the store");
      // Erase needs no key, and the blank record keeps the store's choice to seal.
      const erased = await s.commit({
        ...setRecord(1, fresh),
        state: "blank",
        handle: null,
        identifier: null,
      });
      assert.deepEqual([erased.state, erased.sealed], ["blank", true]);
      const blank = decodeLive(store);
      assert.deepEqual(
        [blank.record.state, blank.record.sealed, blank.record.generation],
        ["blank", true, 1],
      );
      const again = await s.commit(setRecord(2, fresh)).catch((e: unknown) => e);
      assert.ok(again instanceof StorageError && again.code === "store-key-missing", String(again));
      assert.ok(!storeHolds(store, fresh), "a refused identifier reached the store");
    });
    // Reopened without the key: still sealing (the flag is in the stored record, not the object).
    await withStore(store, null, async (s) => {
      assert.equal((await s.info()).sealed, true);
      const refused = await s.commit(setRecord(2, fresh)).catch((e: unknown) => e);
      assert.ok(refused instanceof StorageError && refused.code === "store-key-missing", String(refused));
      assert.equal((await s.load()).state, "blank", "a blank sealed store loads without a key");
    });
    await withStore(store, kek, (s) => s.commit(setRecord(2, fresh)));
    const live = decodeLive(store);
    assert.deepEqual([live.record.state, live.record.sealed, live.record.generation], ["set", true, 2]);
    assert.ok(!storeHolds(store, fresh), "the identifier committed with the key is in clear");
    assertSameSecret((await withStore(store, kek, (s) => s.load())).identifier, fresh);
    kek.fill(0);
  });

  test("through the element without the key: erase works, init is refused, status still says sealed", async (t) => {
    const { store } = tempDir(t);
    const kek = newKek();
    const open = (key: Uint8Array | null) => openWithKey(store, key);
    const sealed = await open(kek);
    await sealed.control.submit({ type: "init" }).finally(() => sealed.close());
    const keyless = await open(null);
    try {
      const refusedUse = await keyless.control
        .useIdentifier(() => assert.fail("opened"))
        .catch((e: unknown) => e);
      assert.ok(refusedUse instanceof StorageError && refusedUse.code === "store-key-missing");
      const refusedReset = await keyless.control.submit({ type: "reset" }).catch((e: unknown) => e);
      assert.ok(refusedReset instanceof StorageError && refusedReset.code === "store-key-missing");
      assert.equal((await keyless.control.status()).generation, 1, "a refused reset moved the generation");
      const erased = await keyless.control.submit({ type: "erase" });
      assert.deepEqual([erased.state, erased.generation], ["blank", 1]);
      const refusedInit = await keyless.control.submit({ type: "init" }).catch((e: unknown) => e);
      assert.ok(refusedInit instanceof StorageError && refusedInit.code === "store-key-missing");
      const status = await keyless.control.status();
      assert.deepEqual([status.state, status.generation, status.sealed], ["blank", 1, true]);
    } finally {
      await keyless.close();
    }
    const keyed = await open(kek);
    try {
      const init = await keyed.control.submit({ type: "init" });
      assert.deepEqual([init.state, init.generation], ["set", 2]);
      assert.equal((await keyed.control.status()).sealed, true);
      await keyed.control.useIdentifier((id, record) => assert.equal(record.handle, deriveHandle(id)));
    } finally {
      await keyed.close();
      kek.fill(0);
    }
  });

  test("a plain store given a key: load() refuses it as unsealed; seal() seals the same identifier and generation", async (t) => {
    const { store } = tempDir(t);
    const open = (key: Uint8Array | null) => openWithKey(store, key);
    const plain = await open(null);
    let identifier: Buffer;
    try {
      await plain.control.submit({ type: "init" });
      await plain.control.submit({ type: "reset" });
      identifier = await plain.control.useIdentifier((id) => Buffer.from(id));
    } finally {
      await plain.close();
    }
    const before = decodeLive(store);
    assert.deepEqual([before.record.sealed, before.record.generation], [false, 2]);
    assert.ok(storeHolds(store, identifier), "the plain store does not hold its identifier in clear");

    const kek = newKek();
    const notSealed = await loadError(store, kek, "a plain store under a key");
    assert.equal(notSealed.code, "store-not-sealed");
    assert.match(notSealed.message, /holds its identifier unsealed.*run 'reid seal'/);
    // The escape hatch seal() uses returns the identifier as stored.
    const accepted = await withStore(store, kek, (s) => s.load({ acceptUnsealed: true }), false);
    assertSameSecret(accepted.identifier, identifier);

    const keyed = await open(kek);
    try {
      const refused = await keyed.control.useIdentifier(() => assert.fail("opened")).catch((e: unknown) => e);
      assert.ok(refused instanceof StorageError && refused.code === "store-not-sealed");
      assert.equal((await keyed.control.status()).sealed, false);
      const status = await keyed.control.seal();
      assert.deepEqual(
        [status.state, status.generation, status.handle, status.sealed],
        ["set", 2, before.record.handle, true],
      );
      await keyed.control.useIdentifier((id, record) => {
        assertSameSecret(id, identifier);
        assert.equal(record.generation, 2);
      });
    } finally {
      await keyed.close();
    }
    const after = decodeLive(store);
    assert.deepEqual(
      [after.record.sealed, after.record.generation, after.record.epoch, after.record.handle],
      [true, 2, before.record.epoch + 1, before.record.handle],
    );
    assert.ok(!storeHolds(store, identifier), "sealing left the identifier in clear");
    assert.equal((await loadError(store, null, "sealed, then no key")).code, "store-key-missing");

    // Sealing an already sealed store commits nothing.
    const sealedBytes = areas(store);
    const again = await open(kek);
    try {
      assert.equal((await again.control.seal()).sealed, true);
    } finally {
      await again.close();
    }
    assert.ok(sameBytes(areas(store), sealedBytes), "sealing a sealed store committed again");
    assertSameSecret((await withStore(store, kek, (s) => s.load())).identifier, identifier);
    kek.fill(0);
  });

  test("key-encryption keys are exactly 32 bytes", () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => new AesGcmSealer(new Uint8Array(length)), RangeError, `${length} bytes`);
    }
    assert.doesNotThrow(() => new AesGcmSealer(new Uint8Array(32)));
  });
});
