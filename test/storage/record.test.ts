import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  AREA_SIZE,
  boundedHint,
  decodeArea,
  encodeRecord,
  HINT_CAPACITY,
  type IdentifierRecord,
} from "../../src/storage/record.js";
import { AesGcmSealer } from "../../src/storage/sealer.js";
import { assertSameSecret } from "../helpers/secret.js";
import { encodeRecordV1, withChecksum } from "./record-v1.js";

const RECORD: IdentifierRecord = {
  state: "set",
  generation: 41,
  format: { kind: "base32", length: 26 },
  singleType: true,
  handle: "0123456789abcdef0123456789abcdef",
  identifier: Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
};
const PLAIN = { ...RECORD, sealed: false };

/** `bytes` decode to RECORD, committed at `epoch`. */
function assertDecodesToRecord(bytes: Uint8Array, epoch: number): void {
  const decoded = decodeArea(bytes);
  assert.ok(decoded.kind === "record", decoded.kind === "corrupt" ? decoded.reason : decoded.kind);
  const { identifier, ...fields } = decoded.record;
  assert.deepEqual(fields, {
    state: "set",
    generation: 41,
    epoch,
    format: RECORD.format,
    singleType: true,
    mode: "random",
    sealed: false,
    handle: RECORD.handle,
  });
  assertSameSecret(identifier, RECORD.identifier);
}

test("record: encode and decode round-trip every field", () => {
  assertDecodesToRecord(encodeRecord(PLAIN, 7), 7);
  const blank = decodeArea(encodeRecord({ ...PLAIN, state: "blank", handle: null, identifier: null }, 8));
  assert.equal(blank.kind === "record" && blank.record.identifier, null);
});

/** Encodes `record`, changes its bytes, and makes the checksum match again. */
function reseal(record: typeof PLAIN, mutate: (bytes: Uint8Array) => void) {
  const bytes = encodeRecord(record, 1);
  mutate(bytes);
  return decodeArea(withChecksum(bytes));
}

test("record: factory mode is a flag of the record, and only a set record can be in it", () => {
  const factory = decodeArea(encodeRecord({ ...PLAIN, mode: "factory" }, 9));
  assert.equal(factory.kind === "record" && factory.record.mode, "factory");
  assert.equal(factory.kind === "record" && factory.record.singleType, true);
  const blank = { ...PLAIN, state: "blank", handle: null, identifier: null, mode: "factory" } as const;
  assert.throws(() => encodeRecord(blank, 9), /a factory record holds an identifier/);
  // Forged: a blank record with the factory flag (bit 2 of byte 7), checksum made to match.
  const forged = reseal({ ...blank, mode: "random" }, (bytes) => {
    bytes[7] = (bytes[7] as number) | 4;
  });
  assert.deepEqual(forged, { kind: "corrupt", reason: "a blank record is in factory mode" });
  const unknown = reseal(PLAIN, (bytes) => {
    bytes[7] = (bytes[7] as number) | 8;
  });
  assert.deepEqual(unknown, { kind: "corrupt", reason: "it has unknown fields" });
});

test("record: every flipped bit anywhere in the area is detected", () => {
  const good = encodeRecord(PLAIN, 3);
  for (let bit = 0; bit < AREA_SIZE * 8; bit++) {
    const bad = Uint8Array.from(good);
    bad[bit >> 3] = (bad[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    assert.equal(decodeArea(bad).kind, "corrupt", `bit ${bit} flipped went unnoticed`);
  }
});

test("record: zeros are an erased area; random bytes and wrong sizes are corrupt", () => {
  assert.equal(decodeArea(new Uint8Array(AREA_SIZE)).kind, "erased");
  for (let i = 0; i < 200; i++) assert.equal(decodeArea(randomBytes(AREA_SIZE)).kind, "corrupt");
  const good = encodeRecord(PLAIN, 1);
  assert.equal(decodeArea(good.subarray(0, AREA_SIZE - 1)).kind, "corrupt");
  assert.equal(decodeArea(Buffer.concat([good, Buffer.alloc(1)])).kind, "corrupt");
});

test("record: a well-checksummed record with impossible fields is still corrupt", () => {
  const set = (offset: number, value: number) => (bytes: Uint8Array) => {
    bytes[offset] = value;
  };
  const cases: [string, (bytes: Uint8Array) => void][] = [
    ["unknown version", set(4, 3)],
    ["unknown state", set(5, 2)],
    ["unknown format", set(6, 9)],
    ["unknown flag", set(7, 0x80)],
    [
      "zero length",
      (b) => {
        set(24, 0)(b);
        set(25, 0)(b);
      },
    ],
    ["length beyond capacity", set(25, 65)],
    ["reserved byte set", set(27, 1)],
    ["bytes after the identifier", set(64 + 26, 1)],
    ["an owner hint without a store id", set(160, 1)],
    ["an owner hint longer than its room", set(160, 64)],
    ["a set record without a handle", (b) => b.fill(0, 32, 48)],
    ["a blank record with a handle", set(5, 0)],
    ["epoch beyond 2^53", set(8, 0xff)],
  ];
  for (const [name, mutate] of cases) assert.equal(reseal(PLAIN, mutate).kind, "corrupt", name);
  assert.equal(reseal(PLAIN, () => undefined).kind, "record", "the resealing itself is sound");
});

test("record: encoding refuses inconsistent records", () => {
  assert.throws(() => encodeRecord({ ...PLAIN, identifier: null }, 1), RangeError);
  assert.throws(() => encodeRecord({ ...PLAIN, state: "blank" }, 1), RangeError);
  assert.throws(() => encodeRecord({ ...PLAIN, identifier: Buffer.alloc(25) }, 1), RangeError);
  assert.throws(() => encodeRecord({ ...PLAIN, generation: -1 }, 1), RangeError);
});

const OWNER = { id: Uint8Array.from(randomBytes(16)), hint: "/home/ada/.local/share/reid" };

test("record: the store id and the owner hint round-trip; a record of no store has no owner", () => {
  const owned = decodeArea(encodeRecord(PLAIN, 2, null, OWNER));
  assert.ok(owned.kind === "record");
  assert.deepEqual(owned.owner, { id: OWNER.id, hint: OWNER.hint });
  const none = decodeArea(encodeRecord(PLAIN, 2));
  assert.ok(none.kind === "record");
  assert.equal(none.owner, null);
  assert.throws(() => encodeRecord(PLAIN, 2, null, { id: new Uint8Array(16), hint: "" }), RangeError);
});

test("record: a long owner hint keeps the end of the path, cut at a character, within its room", () => {
  const path = `/srv/${"ü".repeat(40)}/stores/kitchen-sensor`;
  const hint = new TextDecoder().decode(boundedHint(path));
  assert.ok(Buffer.byteLength(hint) <= HINT_CAPACITY, `${Buffer.byteLength(hint)} bytes`);
  assert.ok(hint.startsWith("...") && hint.endsWith("/stores/kitchen-sensor"), hint);
  assert.ok(path.endsWith(hint.slice(3)), "the hint is not the end of the path");
  const decoded = decodeArea(encodeRecord(PLAIN, 2, null, { id: OWNER.id, hint: path }));
  assert.ok(decoded.kind === "record");
  assert.equal(decoded.owner?.hint, hint);
  assert.equal(new TextDecoder().decode(boundedHint("/short")), "/short");
});

test("record: the store id is bound to a sealed identifier (another id does not open)", () => {
  const kek = randomBytes(32);
  const sealer = new AesGcmSealer(kek);
  const bytes = encodeRecord({ ...PLAIN, sealed: true }, 4, sealer, OWNER);
  const decoded = decodeArea(bytes);
  assert.ok(decoded.kind === "record" && decoded.sealed);
  const opened = sealer.open(decoded.sealed.payload, decoded.sealed.associated);
  assertSameSecret(opened, RECORD.identifier);
  const moved = Uint8Array.from(bytes);
  moved[48] = (moved[48] as number) ^ 1;
  const forged = decodeArea(withChecksum(moved));
  assert.ok(forged.kind === "record" && forged.sealed);
  assert.equal(sealer.open(forged.sealed.payload, forged.sealed.associated), null, "another store id opened");
});

test("record: layout v1 (before store ids) still decodes, with no owner, the payload at byte 48", () => {
  const v1 = encodeRecordV1(RECORD, 6);
  assertDecodesToRecord(v1, 6);
  const decoded = decodeArea(v1);
  assert.equal(decoded.kind === "record" && decoded.owner, null);
});
