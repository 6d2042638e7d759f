import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { unwrapWithPadding, wrapWithPadding } from "../../src/derive/key-wrap.js";
import { assertSameSecret } from "../helpers/secret.js";

const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** RFC 5649 section 6: both examples use this 192-bit KEK. */
const RFC_KEK = fromHex("5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8");
const RFC_VECTORS = [
  {
    name: "20 octets of key data",
    key: fromHex("c37b7e6492584340 bed1220780894115 5068f738"),
    wrapped: fromHex("138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a"),
  },
  {
    name: "7 octets of key data",
    key: fromHex("466f7250617369"),
    wrapped: fromHex("afbeb0f07dfbf541 9200f2ccb50bb24f"),
  },
] as const;

/**
 * RFC 5649 written out from the RFC over plain AES-ECB (not OpenSSL's wrap-pad mode that
 * key-wrap.ts uses): the alternative IV with the length, zero padding to 64-bit blocks, one AES
 * block for a single block, else the RFC 3394 six rounds.
 */
function referenceWrap(kek: Uint8Array, plaintext: Uint8Array): Buffer {
  const aes = createCipheriv(`aes-${kek.length * 8}-ecb`, kek, null).setAutoPadding(false);
  const encrypt = (block: Buffer): Buffer => aes.update(block);
  const aiv = Buffer.alloc(8);
  aiv.writeUInt32BE(0xa65959a6, 0);
  aiv.writeUInt32BE(plaintext.length, 4);
  const n = Math.ceil(plaintext.length / 8);
  const padded = Buffer.alloc(8 * n);
  padded.set(plaintext);
  if (n === 1) return encrypt(Buffer.concat([aiv, padded]));
  let a: Buffer = aiv;
  const r: Buffer[] = Array.from({ length: n }, (_, i) => padded.subarray(8 * i, 8 * i + 8));
  for (let j = 0; j <= 5; j++) {
    for (let i = 0; i < n; i++) {
      const b = encrypt(Buffer.concat([a, r[i] ?? Buffer.alloc(8)]));
      a = b.subarray(0, 8);
      a.writeBigUInt64BE(a.readBigUInt64BE(0) ^ BigInt(n * j + i + 1), 0);
      r[i] = b.subarray(8, 16);
    }
  }
  return Buffer.concat([a, ...r]);
}

describe("RFC 5649 section 6 vectors (192-bit KEK)", () => {
  for (const vector of RFC_VECTORS) {
    test(`${vector.name}: wrap gives the RFC's bytes, unwrap gives the key back`, () => {
      assert.equal(hex(wrapWithPadding(RFC_KEK, vector.key)), hex(vector.wrapped));
      assertSameSecret(unwrapWithPadding(RFC_KEK, vector.wrapped), vector.key, "unwrapped key");
    });

    test(`${vector.name}: the reference implementation agrees with the RFC`, () => {
      assert.equal(hex(referenceWrap(RFC_KEK, vector.key)), hex(vector.wrapped));
    });
  }
});

describe("AES-256 key wrap with padding (the export key)", () => {
  test("every length 1..80 matches the reference and round-trips", () => {
    for (let length = 1; length <= 80; length++) {
      const kek = randomBytes(32);
      const key = randomBytes(length);
      const wrapped = wrapWithPadding(kek, key);
      assert.equal(wrapped.length, 8 * Math.ceil(length / 8) + 8, `wrapped length for ${length}`);
      assert.equal(hex(wrapped), hex(referenceWrap(kek, key)), `reference for ${length}`);
      assertSameSecret(unwrapWithPadding(kek, wrapped), key, `round trip of ${length} bytes`);
    }
  });

  test("a 32-byte identifier under a 32-byte KEK: 40 bytes, deterministic, round-trips", () => {
    const kek = randomBytes(32);
    const identifier = randomBytes(32);
    const wrapped = wrapWithPadding(kek, identifier);
    assert.equal(wrapped.length, 40);
    assert.equal(hex(wrapWithPadding(kek, identifier)), hex(wrapped));
    assert.ok(!Buffer.from(wrapped).includes(Buffer.from(identifier)), "the identifier does not show");
    assertSameSecret(unwrapWithPadding(kek, wrapped), identifier);
  });

  test("every flipped bit of the wrapped bytes makes unwrap throw", () => {
    const kek = randomBytes(32);
    for (const length of [7, 20, 32, 40]) {
      const wrapped = Buffer.from(wrapWithPadding(kek, randomBytes(length)));
      for (let bit = 0; bit < wrapped.length * 8; bit++) {
        const altered = Buffer.from(wrapped);
        altered[bit >> 3] = (altered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        assert.throws(() => unwrapWithPadding(kek, altered), /integrity check/, `bit ${bit} of ${length}`);
      }
    }
  });

  test("a wrong key makes unwrap throw (one bit off, unrelated, or a 16-byte prefix)", () => {
    const kek = randomBytes(32);
    const wrapped = wrapWithPadding(kek, randomBytes(32));
    const oneBitOff = Buffer.from(kek);
    oneBitOff[31] = (oneBitOff[31] ?? 0) ^ 0x80;
    for (const wrong of [oneBitOff, randomBytes(32), kek.subarray(0, 16), kek.subarray(0, 24)]) {
      assert.throws(() => unwrapWithPadding(wrong, wrapped), /integrity check/);
    }
  });

  test("truncated, extended, swapped or empty wrapped bytes are refused", () => {
    const kek = randomBytes(32);
    const wrapped = Buffer.from(wrapWithPadding(kek, randomBytes(32)));
    const swapped = Buffer.concat([
      wrapped.subarray(0, 8),
      wrapped.subarray(16, 24),
      wrapped.subarray(8, 16),
      wrapped.subarray(24),
    ]);
    for (const bad of [
      wrapped.subarray(0, 32),
      wrapped.subarray(8),
      Buffer.concat([wrapped, Buffer.alloc(8)]),
      swapped,
    ]) {
      assert.throws(() => unwrapWithPadding(kek, bad), /integrity check/);
    }
    for (const length of [0, 1, 8, 15, 39]) {
      assert.throws(() => unwrapWithPadding(kek, wrapped.subarray(0, length)), /multiple of 8 bytes/);
    }
  });

  test("nothing to wrap, or a KEK of a length AES does not have, is refused", () => {
    assert.throws(() => wrapWithPadding(randomBytes(32), new Uint8Array(0)), RangeError);
    for (const length of [0, 8, 15, 31, 33, 64]) {
      assert.throws(() => wrapWithPadding(new Uint8Array(length), randomBytes(32)), RangeError);
      assert.throws(() => unwrapWithPadding(new Uint8Array(length), new Uint8Array(40)), RangeError);
    }
  });
});
