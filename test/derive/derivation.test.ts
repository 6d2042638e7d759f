import assert from "node:assert/strict";
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  randomInt,
} from "node:crypto";
import { describe, test } from "node:test";
import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { deriveAll, deriveHandle, deriveKeys, handleOf, wipe } from "../../src/derive/derivation.js";
import { processRandom } from "../../src/format/format.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";

/**
 * docs/spec.md §4 (Derivation v1), checked against an independent derivation built only from
 * node:crypto (OpenSSL): hkdfSync for HKDF-SHA256 (extract + expand in one call), PKCS#8-wrapped
 * private keys for the Ed25519 and X25519 public keys, createECDH for P-256 and BigInt for the
 * scalar reduction. The pinned literals below came from that derivation and were cross-checked
 * once with the openssl CLI (`openssl kdf ... HKDF`, `openssl pkey -pubout`, `bc` for the
 * reduction); nothing here was produced by src/derive.
 */

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** The group order of P-256 (SEC 2 / FIPS 186-4), typed out rather than taken from noble. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

interface Recipe {
  readonly salt: string;
  readonly labels: { readonly ed25519: string; readonly x25519: string; readonly p256: string };
  /** What is added after the reduction mod n-1 (SPEC: 1). */
  readonly p256Offset: bigint;
  /** SPEC: HKDF-Extract then Expand; false = Expand straight from the identifier (no extract). */
  readonly extract: boolean;
}

const V1: Recipe = {
  salt: "reid/v1",
  labels: { ed25519: "reid/v1/ed25519", x25519: "reid/v1/x25519", p256: "reid/v1/p256" },
  p256Offset: 1n,
  extract: true,
};

interface Reference {
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly p256: string;
  readonly seed: Uint8Array;
  readonly x25519Secret: Uint8Array;
  readonly p256Scalar: Uint8Array;
}

const PKCS8 = {
  ed25519: Buffer.from("302e020100300506032b657004220420", "hex"),
  x25519: Buffer.from("302e020100300506032b656e04220420", "hex"),
};

function okm(ikm: Uint8Array, label: string, length: number, recipe: Recipe): Buffer {
  if (recipe.extract) return Buffer.from(hkdfSync("sha256", ikm, recipe.salt, label, length));
  // A wrong recipe on purpose: the identifier used as PRK directly (HKDF-Expand only).
  return Buffer.from(expand(sha256, ikm, new TextEncoder().encode(label), length));
}

function okpPublicKey(prefix: Buffer, secret: Uint8Array): Buffer {
  const privateKey = createPrivateKey({
    key: Buffer.concat([prefix, secret]),
    format: "der",
    type: "pkcs8",
  });
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  assert.ok(typeof x === "string");
  return Buffer.from(x, "base64url");
}

/** The independent derivation (node:crypto + BigInt), following docs/spec.md §4 literally. */
function reference(identifier: Uint8Array, recipe: Recipe = V1): Reference {
  const seed = okm(identifier, recipe.labels.ed25519, 32, recipe);
  const ed25519 = okpPublicKey(PKCS8.ed25519, seed);
  const x25519Secret = okm(identifier, recipe.labels.x25519, 32, recipe);
  const x25519 = okpPublicKey(PKCS8.x25519, x25519Secret);
  const wide = okm(identifier, recipe.labels.p256, 48, recipe);
  const d = (BigInt(`0x${wide.toString("hex")}`) % (P256_N - 1n)) + recipe.p256Offset;
  const p256Scalar = Buffer.from(d.toString(16).padStart(64, "0"), "hex");
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(p256Scalar);
  const handle = createHash("sha256").update(ed25519).digest().subarray(0, 16).toString("hex");
  return {
    handle,
    ed25519: hex(ed25519),
    x25519: hex(x25519),
    p256: hex(ecdh.getPublicKey(null, "uncompressed")),
    seed,
    x25519Secret,
    p256Scalar,
  };
}

/** The checker: our derivation of `identifier` must equal the reference one, part by part. */
function assertMatchesReference(identifier: Uint8Array, expected: Reference): void {
  const keys = deriveAll(identifier);
  try {
    assert.equal(keys.handle, expected.handle, "handle");
    assert.equal(hex(keys.ed25519.publicKey), expected.ed25519, "Ed25519 public key");
    assert.equal(hex(keys.x25519.publicKey), expected.x25519, "X25519 public key");
    assert.equal(hex(keys.p256.publicKey), expected.p256, "P-256 public key");
    assertSameSecret(keys.ed25519.seed, expected.seed, "Ed25519 seed");
    assertSameSecret(keys.x25519.secret, expected.x25519Secret, "X25519 secret");
    assertSameSecret(keys.p256.scalar, expected.p256Scalar, "P-256 scalar");
    assert.equal(deriveHandle(identifier), expected.handle, "deriveHandle");
  } finally {
    wipe(keys);
  }
}

interface Pinned {
  readonly name: string;
  readonly identifier: Uint8Array;
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly p256: string;
}

const DIGITS_40 = "3141592653589793238462643383279502884197";

const PINNED: readonly Pinned[] = [
  {
    name: "raw:32, 32 zero bytes",
    identifier: new Uint8Array(32),
    handle: "7b78586079e0a9caa2ea71a6bf4bd479",
    ed25519: "3cc2f86ba0eb53b19260022774e644d2e76e69278126a71ae7763cfe451b3f29",
    x25519: "2f853d18a6624d1da91aaf35384ae0533c757f96daeb7d397737c3df22a72679",
    p256:
      "04344a178ce5c3d891ebc44e8cbf3fd1d31692cc69ea2032de6ccaa11ef61d0c36" +
      "a684fb6cb3da89b95539b75c7c7c20e6eedf8b71f3ec50c6f2d161dc59632c7f",
  },
  {
    name: "raw:32, bytes 0x01..0x20",
    identifier: Uint8Array.from({ length: 32 }, (_, i) => i + 1),
    handle: "c86be89cca69499f25c21308f021ee26",
    ed25519: "77847b21aed50c96ade2e707da1e90935c197d34fdaa5c7a32d2a45a5a7b4dc2",
    x25519: "94bfb53f153e43c099410e8c85321a67a4228614007a87e975931eb6c013dc01",
    p256:
      "041b9d56c4a72258858f85b21e1dcff702b447f0ed1a73ed3386745dfc84797b3e" +
      "df442f08cb29b9a3b693607a54d9d33a66a8b9be7bb9d63cb5afbbfb3ef2ad8c",
  },
  {
    name: "digits:40 as ASCII",
    identifier: Buffer.from(DIGITS_40, "ascii"),
    handle: "5ab64a87ed9c053bed81ced2e5a95c33",
    ed25519: "dce43b96b4ec5c02f65aa7ef8c5df63bd02f59211f2eddc98a143620845837df",
    x25519: "68fca4c8403db15d4a3d6e71aeb41fc08c9f106f935cd068a8d5d4f8bc1e014c",
    p256:
      "04e303fcd75bebe2fd4ecfd9e6da19990203343c56bdd12a1300865ae014e6e9db" +
      "15ff5ed0fa030adeefbf5c83b95c3cfed40e65d0d8842b4259001980675a9944",
  },
  {
    name: "raw:64, bytes 0xff, 0xfc, 0xf9, ...",
    identifier: Uint8Array.from({ length: 64 }, (_, i) => (0xff - 3 * i) & 0xff),
    handle: "6caff2f6b78e4811d59db0ea38309f46",
    ed25519: "ff59b193bf5d606fb0ac23184796aeee2325c648c1bc1511a4b6893f78ac72d2",
    x25519: "0bdf6804f0f45243c2aab884f731a21e037753afdb14db454d82c460dfe2b70e",
    p256:
      "048e4772616bc1e76ccf74ef6d00b4b0f204c0a61180e529d884797b86906fdaeb" +
      "00e7e103763e37f8d30c2f168ca64d534dd64507bb52a1b957ab997f1f14a75d",
  },
];

/** RFC 5869 appendix A, test cases 1-3 (HKDF-SHA256), as printed in the RFC. */
const RFC5869 = [
  {
    name: "test case 1 (basic)",
    ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    length: 42,
    prk: "077709362c2e32df0ddc3f0dc47bba63 90b6c73bb50f9c3122ec844ad7c2b3e5",
    okm: "3cb25f25faacd57a90434f64d0362f2a 2d2d0a90cf1a5a4c5db02d56ecc4c5bf 34007208d5b887185865",
  },
  {
    name: "test case 2 (longer inputs and outputs)",
    ikm:
      "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f" +
      "303132333435363738393a3b3c3d3e3f 404142434445464748494a4b4c4d4e4f",
    salt:
      "606162636465666768696a6b6c6d6e6f 707172737475767778797a7b7c7d7e7f 808182838485868788898a8b8c8d8e8f" +
      "909192939495969798999a9b9c9d9e9f a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
    info:
      "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf c0c1c2c3c4c5c6c7c8c9cacbcccdcecf d0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
      "e0e1e2e3e4e5e6e7e8e9eaebecedeeef f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
    length: 82,
    prk: "06a6b88c5853361a06104c9ceb35b45c ef760014904671014a193f40c15fc244",
    okm:
      "b11e398dc80327a1c8e7f78c596a4934 4f012eda2d4efad8a050cc4c19afa97c 59045a99cac7827271cb41c65e590e09" +
      "da3275600c2f09b8367793a9aca3db71 cc30c58179ec3e87c14c01d5c1f3434f 1d87",
  },
  {
    name: "test case 3 (zero-length salt and info)",
    ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
    salt: "",
    info: "",
    length: 42,
    prk: "19ef24a32c717b167f33a91d6f648bdf 96596776afdb6377ac434c1c293ccb04",
    okm: "8da4e775a563c18f715f802a063c5a31 b8a11f5c5ee1879ec3454e5f3c738d2d 9d201395faa4b61a96c8",
  },
] as const;

describe("HKDF-SHA256 (@noble/hashes extract/expand, as derivation.ts calls them): RFC 5869", () => {
  const bytes = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, ""), "hex");
  for (const vector of RFC5869) {
    test(vector.name, () => {
      const prk = extract(sha256, bytes(vector.ikm), bytes(vector.salt));
      assert.equal(hex(prk), hex(bytes(vector.prk)), "PRK");
      const okm = expand(sha256, prk, bytes(vector.info), vector.length);
      assert.equal(okm.length, vector.length);
      assert.equal(hex(okm), hex(bytes(vector.okm)), "OKM");
      // and node:crypto, which the reference derivation below relies on, agrees
      const nodeOkm = hkdfSync(
        "sha256",
        bytes(vector.ikm),
        bytes(vector.salt),
        bytes(vector.info),
        vector.length,
      );
      assert.equal(hex(new Uint8Array(nodeOkm)), hex(bytes(vector.okm)), "node:crypto OKM");
    });
  }

  test("a different salt, info or key gives a different OKM", () => {
    const vector = RFC5869[0];
    const okm = (ikm: string, salt: string, info: string) =>
      hex(expand(sha256, extract(sha256, bytes(ikm), bytes(salt)), bytes(info), vector.length));
    const good = okm(vector.ikm, vector.salt, vector.info);
    assert.equal(good, hex(bytes(vector.okm)));
    assert.notEqual(okm(vector.ikm, `${vector.salt}0d`, vector.info), good);
    assert.notEqual(okm(vector.ikm, vector.salt, `${vector.info}fa`), good);
    assert.notEqual(okm(`${vector.ikm}0b`, vector.salt, vector.info), good);
  });
});

describe("derivation v1: pinned vectors", () => {
  for (const vector of PINNED) {
    test(`${vector.name}: deriveAll and deriveHandle give the pinned keys`, () => {
      const keys = deriveAll(vector.identifier);
      assert.equal(keys.handle, vector.handle);
      assert.equal(hex(keys.ed25519.publicKey), vector.ed25519);
      assert.equal(hex(keys.x25519.publicKey), vector.x25519);
      assert.equal(hex(keys.p256.publicKey), vector.p256);
      assert.equal(keys.p256.publicKey.length, 65);
      assert.equal(keys.p256.publicKey[0], 0x04, "uncompressed SEC1");
      assert.match(keys.handle, /^[0-9a-f]{32}$/);
      assert.equal(handleOf(keys.ed25519.publicKey), vector.handle);
      assert.equal(deriveHandle(vector.identifier), vector.handle);
      wipe(keys);
    });

    test(`${vector.name}: the independent derivation reproduces the pinned keys`, () => {
      const expected = reference(vector.identifier);
      assert.deepEqual(
        { handle: expected.handle, ed25519: expected.ed25519, x25519: expected.x25519, p256: expected.p256 },
        { handle: vector.handle, ed25519: vector.ed25519, x25519: vector.x25519, p256: vector.p256 },
      );
    });
  }

  test("the digits:40 vector is what the element stores for those digits (ASCII canonical bytes)", async () => {
    // Byte b becomes digit b mod 10 (b < 250): feeding the digit values yields the same digits.
    const values = Uint8Array.from(DIGITS_40, (c) => c.charCodeAt(0) - 0x30);
    const identifier = await processRandom({ kind: "digits", length: 40 }, async (n) => {
      const out = new Uint8Array(n);
      out.set(values.subarray(0, Math.min(n, values.length)));
      return out;
    });
    assert.equal(hex(identifier), hex(PINNED[2]?.identifier ?? new Uint8Array()));
    assert.equal(deriveHandle(identifier), "5ab64a87ed9c053bed81ced2e5a95c33");
  });

  test("the HKDF we use is plain RFC 5869 extract + expand with SPEC's salt and labels", () => {
    // The same PRK/OKM from noble (what derivation.ts calls) and from node:crypto.
    const identifier = PINNED[1]?.identifier ?? new Uint8Array();
    const prk = extract(sha256, identifier, new TextEncoder().encode("reid/v1"));
    for (const [label, length] of [
      ["reid/v1/ed25519", 32],
      ["reid/v1/x25519", 32],
      ["reid/v1/p256", 48],
    ] as const) {
      const ours = expand(sha256, prk, new TextEncoder().encode(label), length);
      assertSameSecret(ours, Buffer.from(hkdfSync("sha256", identifier, "reid/v1", label, length)), label);
    }
  });
});

describe("derivation v1: live agreement with the independent derivation", () => {
  test("300 random identifiers (raw 1..96 bytes, digits, base32) agree in every part", () => {
    const base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const identifiers: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) identifiers.push(randomBytes(1 + (i % 96)));
    for (let i = 0; i < 50; i++) {
      const length = 39 + randomInt(40);
      identifiers.push(Buffer.from(Array.from({ length }, () => String(randomInt(10))).join(""), "ascii"));
    }
    for (let i = 0; i < 50; i++) {
      const length = 26 + randomInt(40);
      identifiers.push(Buffer.from(Array.from({ length }, () => base32[randomInt(32)]).join(""), "ascii"));
    }
    const handles = new Set<string>();
    for (const identifier of identifiers) {
      assertMatchesReference(identifier, reference(identifier));
      handles.add(deriveHandle(identifier));
    }
    assert.equal(handles.size, identifiers.length, "distinct identifiers give distinct handles");
  });

  test("P-256 scalars stay in [1, n-1] and public keys are on the curve (node accepts them)", () => {
    for (let i = 0; i < 50; i++) {
      const keys = deriveAll(randomBytes(32));
      const d = BigInt(`0x${hex(keys.p256.scalar)}`);
      assert.equal(keys.p256.scalar.length, 32);
      assert.ok(d >= 1n && d <= P256_N - 1n);
      // createPublicKey refuses a point that is not on P-256.
      const jwk = {
        kty: "EC",
        crv: "P-256",
        x: Buffer.from(keys.p256.publicKey.subarray(1, 33)).toString("base64url"),
        y: Buffer.from(keys.p256.publicKey.subarray(33)).toString("base64url"),
      };
      assert.doesNotThrow(() => createPublicKey({ key: jwk, format: "jwk" }));
      wipe(keys);
    }
  });

  test("the same identifier always gives the same keys; a one-bit change gives all-new keys", () => {
    const identifier = randomBytes(32);
    const a = deriveAll(identifier);
    const b = deriveAll(Buffer.from(identifier));
    assert.equal(a.handle, b.handle);
    assertSameSecret(a.ed25519.seed, b.ed25519.seed, "seed");
    assert.equal(hex(a.p256.publicKey), hex(b.p256.publicKey));
    const flipped = Buffer.from(identifier);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    const c = deriveAll(flipped);
    assert.notEqual(c.handle, a.handle);
    assertDifferentSecret(c.ed25519.seed, a.ed25519.seed, "seed");
    assertDifferentSecret(c.x25519.secret, a.x25519.secret, "X25519 secret");
    assertDifferentSecret(c.p256.scalar, a.p256.scalar, "P-256 scalar");
    for (const keys of [a, b, c]) wipe(keys);
  });
});

describe("derivation v1: the checker catches a wrong derivation", () => {
  const wrong: readonly { readonly name: string; readonly recipe: Recipe; readonly changes: string[] }[] = [
    { name: "salt reid/v2", recipe: { ...V1, salt: "reid/v2" }, changes: ["ed25519", "x25519", "p256"] },
    { name: "empty salt", recipe: { ...V1, salt: "" }, changes: ["ed25519", "x25519", "p256"] },
    {
      name: "Ed25519 label 'reid/v1/Ed25519'",
      recipe: { ...V1, labels: { ...V1.labels, ed25519: "reid/v1/Ed25519" } },
      changes: ["ed25519"],
    },
    {
      name: "X25519 and P-256 labels swapped",
      recipe: { ...V1, labels: { ...V1.labels, x25519: "reid/v1/p256", p256: "reid/v1/x25519" } },
      changes: ["x25519", "p256"],
    },
    { name: "P-256 scalar without the +1", recipe: { ...V1, p256Offset: 0n }, changes: ["p256"] },
    { name: "no HKDF-Extract", recipe: { ...V1, extract: false }, changes: ["ed25519", "x25519", "p256"] },
  ];

  for (const { name, recipe, changes } of wrong) {
    test(`${name}: different keys, and assertMatchesReference rejects ours against it`, () => {
      for (const vector of PINNED) {
        const bad = reference(vector.identifier, recipe);
        for (const part of ["ed25519", "x25519", "p256"] as const) {
          if (changes.includes(part)) assert.notEqual(bad[part], vector[part], `${part} must change`);
          else assert.equal(bad[part], vector[part], `${part} must stay`);
        }
        if (changes.includes("ed25519")) assert.notEqual(bad.handle, vector.handle);
        assert.throws(() => assertMatchesReference(vector.identifier, bad), assert.AssertionError);
      }
    });
  }
});

describe("derivation v1: wipe and subsets", () => {
  test("wipe() zeroes seed, secret and scalar and leaves public keys and handle", () => {
    const keys = deriveAll(PINNED[3]?.identifier ?? new Uint8Array());
    const before = {
      handle: keys.handle,
      ed25519: hex(keys.ed25519.publicKey),
      x25519: hex(keys.x25519.publicKey),
      p256: hex(keys.p256.publicKey),
    };
    const privates = [keys.ed25519.seed, keys.x25519.secret, keys.p256.scalar];
    for (const secret of privates)
      assert.ok(
        secret.some((b) => b !== 0),
        "non-zero before wipe",
      );
    wipe(keys);
    for (const secret of privates) {
      assert.equal(secret.length, 32, "same buffer, same length");
      assert.ok(
        secret.every((b) => b === 0),
        "zero after wipe",
      );
    }
    assert.deepEqual(
      {
        handle: keys.handle,
        ed25519: hex(keys.ed25519.publicKey),
        x25519: hex(keys.x25519.publicKey),
        p256: hex(keys.p256.publicKey),
      },
      before,
    );
    assert.equal(before.ed25519, PINNED[3]?.ed25519);
  });

  test("wipe() of a subset touches only what is there", () => {
    const keys = deriveKeys(PINNED[0]?.identifier ?? new Uint8Array(), ["ed25519"]);
    assert.doesNotThrow(() => wipe(keys));
    assert.ok(keys.ed25519?.seed.every((b) => b === 0));
  });

  test("deriveKeys derives only the keys asked for (Ed25519 always: the handle needs it)", () => {
    const vector = PINNED[1];
    assert.ok(vector);
    const cases = [
      { which: ["ed25519"], has: ["ed25519"] },
      { which: ["x25519"], has: ["ed25519", "x25519"] },
      { which: ["p256"], has: ["ed25519", "p256"] },
      { which: ["ed25519", "p256"], has: ["ed25519", "p256"] },
      { which: ["x25519", "p256"], has: ["ed25519", "x25519", "p256"] },
    ] as const;
    for (const { which, has } of cases) {
      const keys = deriveKeys(vector.identifier, which);
      assert.equal(keys.handle, vector.handle, `handle for ${which}`);
      assert.deepEqual(
        Object.keys(keys)
          .filter((k) => k !== "handle")
          .sort(),
        [...has].sort(),
        `parts for ${which}`,
      );
      assert.equal(hex(keys.ed25519?.publicKey ?? new Uint8Array()), vector.ed25519);
      if (keys.x25519) assert.equal(hex(keys.x25519.publicKey), vector.x25519);
      if (keys.p256) assert.equal(hex(keys.p256.publicKey), vector.p256);
      wipe(keys);
    }
  });
});
