import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { AREA_SIZE, decodeArea, encodeRecord, type IdentifierRecord } from "../../src/storage/record.js";
import { assertSameSecret } from "../helpers/secret.js";

const RECORD: IdentifierRecord = {
  state: "set",
  generation: 41,
  format: { kind: "base32", length: 26 },
  singleType: true,
  handle: "0123456789abcdef0123456789abcdef",
  identifier: Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
};
const PLAIN = { ...RECORD, sealed: false };

test("record: encode and decode round-trip every field", () => {
  const decoded = decodeArea(encodeRecord(PLAIN, 7));
  assert.equal(decoded.kind, "record");
  if (decoded.kind !== "record") return;
  const { identifier, ...fields } = decoded.record;
  assert.deepEqual(fields, {
    state: "set",
    generation: 41,
    epoch: 7,
    format: RECORD.format,
    singleType: true,
    mode: "random",
    sealed: false,
    handle: RECORD.handle,
  });
  assertSameSecret(identifier, RECORD.identifier);
  const blank = decodeArea(encodeRecord({ ...PLAIN, state: "blank", handle: null, identifier: null }, 8));
  assert.equal(blank.kind === "record" && blank.record.identifier, null);
});

/** Encodes `record`, changes its bytes, and makes the checksum match again. */
function reseal(record: typeof PLAIN, mutate: (bytes: Uint8Array) => void) {
  const bytes = encodeRecord(record, 1);
  mutate(bytes);
  bytes.set(
    createHash("sha256")
      .update(bytes.subarray(0, AREA_SIZE - 32))
      .digest(),
    AREA_SIZE - 32,
  );
  return decodeArea(bytes);
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
    ["unknown version", set(4, 2)],
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
    ["bytes after the identifier", set(48 + 26, 1)],
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
