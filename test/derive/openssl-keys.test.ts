import assert from "node:assert/strict";
import { createPrivateKey, diffieHellman, sign as nodeSign, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { okpPublicKey, p256PublicKey } from "../../src/derive/openssl-keys.js";

/**
 * The derived keys' public halves moved from @noble/curves to OpenSSL (openssl-keys.ts) and must
 * be the same bytes (docs/spec.md §4: any other bytes would be a new derivation). Held here to
 * noble for many secrets, to the RFCs' own vectors, and, through the private keys OpenSSL builds
 * from them, to noble's signatures and agreements.
 */

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const bytes = (text: string): Uint8Array => Buffer.from(text, "hex");
const jwkPrivate = (crv: "Ed25519" | "X25519", secret: Uint8Array, x = "") =>
  createPrivateKey({
    key: { kty: "OKP", crv, d: Buffer.from(secret).toString("base64url"), x },
    format: "jwk",
  });

/** RFC 8032 §7.1, tests 1-3: secret key (the seed), public key, message, signature. */
const RFC8032 = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
] as const;

/** RFC 7748 §6.1: Alice's and Bob's secrets, their public keys, and the secret they share. */
const RFC7748 = {
  alice: {
    secret: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    publicKey: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  },
  bob: {
    secret: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    publicKey: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  },
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
} as const;

/** Secrets worth trying beside random ones: all zeros, all ones, every clamped bit set or clear. */
const EDGES = [new Uint8Array(32), new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0x80)];
const secrets = () => [...EDGES, ...Array.from({ length: 64 }, () => randomBytes(32))];

describe("Ed25519 public keys from OpenSSL are @noble/curves' (RFC 8032)", () => {
  for (const [i, vector] of RFC8032.entries()) {
    test(`RFC 8032 test ${i + 1}: the public key, and OpenSSL's signature with the same seed`, () => {
      assert.equal(hex(okpPublicKey("Ed25519", bytes(vector.seed))), vector.publicKey);
      assert.equal(hex(ed25519.getPublicKey(bytes(vector.seed))), vector.publicKey, "noble agrees");
      const message = bytes(vector.message);
      assert.equal(hex(nodeSign(null, message, jwkPrivate("Ed25519", bytes(vector.seed)))), vector.signature);
      assert.equal(hex(ed25519.sign(message, bytes(vector.seed))), vector.signature, "noble agrees");
    });
  }

  test("67 seeds (edges and random): the same public key, and the same signatures, as noble", () => {
    for (const seed of secrets()) {
      const publicKey = okpPublicKey("Ed25519", seed);
      assert.equal(hex(publicKey), hex(ed25519.getPublicKey(seed)), hex(seed));
      const message = randomBytes(1 + (seed[0] ?? 0));
      // Ed25519 is deterministic: the same key signs the same message into the same 64 bytes.
      const signature = nodeSign(null, message, jwkPrivate("Ed25519", seed));
      assert.equal(hex(signature), hex(ed25519.sign(message, seed)));
      assert.ok(ed25519.verify(signature, message, publicKey));
    }
  });
});

describe("X25519 public keys from OpenSSL are @noble/curves' (RFC 7748)", () => {
  test("RFC 7748 §6.1: Alice's and Bob's public keys and their shared secret", () => {
    const { alice, bob } = RFC7748;
    assert.equal(hex(okpPublicKey("X25519", bytes(alice.secret))), alice.publicKey);
    assert.equal(hex(okpPublicKey("X25519", bytes(bob.secret))), bob.publicKey);
    const shared = diffieHellman({
      privateKey: jwkPrivate("X25519", bytes(alice.secret)),
      publicKey: createPrivateKey({
        key: { kty: "OKP", crv: "X25519", d: Buffer.from(bytes(bob.secret)).toString("base64url"), x: "" },
        format: "jwk",
      }),
    });
    assert.equal(hex(shared), RFC7748.shared);
  });

  test("67 secrets (edges and random, unclamped as derived): the same public key and agreement as noble", () => {
    const peer = randomBytes(32);
    const peerPublic = x25519.getPublicKey(peer);
    for (const secret of secrets()) {
      const publicKey = okpPublicKey("X25519", secret);
      assert.equal(hex(publicKey), hex(x25519.getPublicKey(secret)), hex(secret));
      const ours = diffieHellman({
        privateKey: jwkPrivate("X25519", secret),
        publicKey: jwkPrivate("X25519", peer),
      });
      assert.equal(hex(ours), hex(x25519.getSharedSecret(secret, peerPublic)));
    }
  });
});

describe("P-256 public keys from OpenSSL are @noble/curves'", () => {
  test("64 random scalars, and the edges 1 and n-1", () => {
    const n = p256.Point.CURVE().n;
    const scalarOf = (value: bigint) => Buffer.from(value.toString(16).padStart(64, "0"), "hex");
    const scalars = [scalarOf(1n), scalarOf(n - 1n)];
    for (let i = 0; i < 64; i++)
      scalars.push(scalarOf((BigInt(`0x${hex(randomBytes(32))}`) % (n - 1n)) + 1n));
    for (const scalar of scalars) {
      assert.equal(hex(p256PublicKey(scalar)), hex(p256.getPublicKey(scalar, false)), hex(scalar));
    }
  });
});

describe("the checks catch a wrong key", () => {
  test("another seed, or the seed taken as an X25519 secret, gives other bytes", () => {
    for (const seed of secrets().slice(0, 8)) {
      const other = Uint8Array.from(seed);
      other[31] = (other[31] ?? 0) ^ 1;
      assert.notEqual(hex(okpPublicKey("Ed25519", other)), hex(ed25519.getPublicKey(seed)));
      assert.notEqual(hex(okpPublicKey("X25519", seed)), hex(ed25519.getPublicKey(seed)));
    }
  });

  test("Node builds an OKP private key from d alone: an x of another key changes nothing", () => {
    // What okpPublicKey relies on; should a Node ever read x, this fails (and so would the import).
    const seed = bytes(RFC8032[0].seed);
    const wrongX = Buffer.from(RFC8032[1].publicKey, "hex").toString("base64url");
    const key = jwkPrivate("Ed25519", seed, wrongX);
    assert.equal(
      key.export({ format: "jwk" }).x,
      Buffer.from(RFC8032[0].publicKey, "hex").toString("base64url"),
    );
  });

  test("a secret that is not 32 bytes is refused", () => {
    assert.throws(() => okpPublicKey("Ed25519", new Uint8Array(31)), RangeError);
    assert.throws(() => okpPublicKey("X25519", new Uint8Array(33)), RangeError);
  });
});
