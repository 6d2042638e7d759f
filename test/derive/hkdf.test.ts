import assert from "node:assert/strict";
import { hkdfSync, randomBytes, randomInt } from "node:crypto";
import { describe, test } from "node:test";
import { hkdf, hkdfExpand, hkdfExtract } from "../../src/derive/hkdf.js";

/** RFC 5869 appendix A, test cases 1-3 (HKDF-SHA256), as printed in the RFC. */
const VECTORS = [
  {
    name: "test case 1 (basic)",
    ikm: "0b".repeat(22),
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    length: 42,
    prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  },
  {
    name: "test case 2 (longer inputs and outputs)",
    ikm: Array.from({ length: 80 }, (_, i) => i.toString(16).padStart(2, "0")).join(""),
    salt: Array.from({ length: 80 }, (_, i) => (0x60 + i).toString(16).padStart(2, "0")).join(""),
    info: Array.from({ length: 80 }, (_, i) => (0xb0 + i).toString(16).padStart(2, "0")).join(""),
    length: 82,
    prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
    okm:
      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09" +
      "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
  },
  {
    name: "test case 3 (zero-length salt and info)",
    ikm: "0b".repeat(22),
    salt: "",
    info: "",
    length: 42,
    prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  },
] as const;

const bytes = (text: string) => Buffer.from(text, "hex");
const hex = (value: Uint8Array) => Buffer.from(value).toString("hex");

describe("HKDF-SHA256 on node:crypto's HMAC (src/derive/hkdf.ts)", () => {
  for (const vector of VECTORS) {
    test(`RFC 5869 ${vector.name}`, () => {
      const prk = hkdfExtract(bytes(vector.salt), bytes(vector.ikm));
      assert.equal(hex(prk), vector.prk, "PRK");
      assert.equal(hex(hkdfExpand(prk, bytes(vector.info), vector.length)), vector.okm, "OKM");
      assert.equal(
        hex(hkdf(bytes(vector.ikm), bytes(vector.salt), bytes(vector.info), vector.length)),
        vector.okm,
      );
    });
  }

  test("200 random inputs (salt and info of 0..80 bytes, 1..255 output bytes) give hkdfSync's bytes", () => {
    for (let i = 0; i < 200; i++) {
      const ikm = randomBytes(1 + randomInt(80));
      const salt = randomBytes(randomInt(81));
      const info = randomBytes(randomInt(81));
      const length = 1 + randomInt(255);
      const expected = Buffer.from(hkdfSync("sha256", ikm, salt, info, length));
      assert.equal(hex(hkdf(ikm, salt, info, length)), hex(expected));
    }
  });

  test("a string info is its UTF-8 bytes", () => {
    const ikm = randomBytes(32);
    const salt = randomBytes(32);
    assert.equal(
      hex(hkdf(ikm, salt, "reid/v1/bind/code", 64)),
      hex(hkdf(ikm, salt, Buffer.from("reid/v1/bind/code"), 64)),
    );
  });

  test("the check catches another salt, info, key or length, and a length over 255 blocks is refused", () => {
    const [vector] = VECTORS;
    const okm = (ikm: string, salt: string, info: string, length: number = vector.length) =>
      hex(hkdf(bytes(ikm), bytes(salt), bytes(info), length));
    assert.equal(okm(vector.ikm, vector.salt, vector.info), vector.okm);
    assert.notEqual(okm(vector.ikm, `${vector.salt}0d`, vector.info), vector.okm);
    assert.notEqual(okm(vector.ikm, vector.salt, `${vector.info}fa`), vector.okm);
    assert.notEqual(okm(`${vector.ikm}0b`, vector.salt, vector.info), vector.okm);
    assert.notEqual(okm(vector.ikm, vector.salt, vector.info, 41), vector.okm);
    assert.throws(() => hkdfExpand(randomBytes(32), "", 255 * 32 + 1), RangeError);
  });
});
