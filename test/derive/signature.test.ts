import assert from "node:assert/strict";
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomBytes,
} from "node:crypto";
import { after, describe, test } from "node:test";
import { type DerivedKeys, deriveAll, wipe } from "../../src/derive/derivation.js";
import { publicKeyPem } from "../../src/derive/public-key.js";
import { type SigningAlgorithm, sign, verify } from "../../src/derive/signature.js";

/**
 * signature.ts against node:crypto (OpenSSL): Ed25519 (RFC 8032, pure) and ECDSA P-256 over
 * SHA-256 with DER signatures. Keys come from the derivation; the public halves reach OpenSSL as
 * the SPKI PEM of public-key.ts.
 */

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const ALGORITHMS: readonly SigningAlgorithm[] = ["ed25519", "p256"];

const keysA = deriveAll(new Uint8Array(32));
const keysB = deriveAll(Uint8Array.from({ length: 32 }, (_, i) => i + 1));

const publicOf = (keys: DerivedKeys, algorithm: SigningAlgorithm): Uint8Array =>
  algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey;

const spki = (keys: DerivedKeys, algorithm: SigningAlgorithm): KeyObject =>
  createPublicKey(publicKeyPem(algorithm, publicOf(keys, algorithm)));

/** The derived private key as an OpenSSL key object, through PKCS#8 (RFC 8410 / RFC 5915). */
function privateKeyObject(keys: DerivedKeys, algorithm: SigningAlgorithm): KeyObject {
  const prefix =
    algorithm === "ed25519"
      ? "302e020100300506032b657004220420"
      : "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420";
  const secret = algorithm === "ed25519" ? keys.ed25519.seed : keys.p256.scalar;
  const der = Buffer.concat([Buffer.from(prefix, "hex"), secret]);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

/** Strict DER ECDSA-Sig-Value { r INTEGER, s INTEGER }: minimal, positive, nothing trailing. */
function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const bytes = Buffer.from(der);
  assert.equal(bytes[0], 0x30, "SEQUENCE");
  assert.equal(bytes[1], bytes.length - 2, "SEQUENCE length (short form) covers the rest");
  let at = 2;
  const integer = (): bigint => {
    assert.equal(bytes[at], 0x02, "INTEGER");
    const length = bytes[at + 1] ?? 0;
    const body = bytes.subarray(at + 2, at + 2 + length);
    assert.ok(length >= 1 && body.length === length, "INTEGER length");
    assert.ok((body[0] ?? 0) < 0x80, "INTEGER is positive");
    assert.ok(!(body[0] === 0 && length > 1 && (body[1] ?? 0) < 0x80), "INTEGER is minimal");
    at += 2 + length;
    return BigInt(`0x${body.toString("hex")}`);
  };
  const r = integer();
  const s = integer();
  assert.equal(at, bytes.length, "nothing after s");
  return { r, s };
}

function encodeDerSignature(r: bigint, s: bigint): Uint8Array {
  const integer = (value: bigint): Buffer => {
    let body = Buffer.from(value.toString(16).padStart(64, "0"), "hex");
    while (body.length > 1 && body[0] === 0 && (body[1] ?? 0) < 0x80) body = body.subarray(1);
    if ((body[0] ?? 0) >= 0x80) body = Buffer.concat([Buffer.from([0]), body]);
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const content = Buffer.concat([integer(r), integer(s)]);
  return Buffer.concat([Buffer.from([0x30, content.length]), content]);
}

describe("sign / verify", () => {
  for (const algorithm of ALGORITHMS) {
    test(`${algorithm}: round trip over messages of many lengths`, () => {
      for (const length of [0, 1, 31, 32, 33, 64, 1000, 65_537]) {
        const message = randomBytes(length);
        const signature = sign(algorithm, keysA, message);
        assert.ok(verify(algorithm, publicOf(keysA, algorithm), message, signature), `length ${length}`);
      }
    });

    test(`${algorithm}: a tampered message, a tampered signature or another key fails`, () => {
      const message = Buffer.from("reid: signed command 42");
      const signature = sign(algorithm, keysA, message);
      const publicKey = publicOf(keysA, algorithm);
      assert.ok(verify(algorithm, publicKey, message, signature));

      const alteredMessage = Buffer.from(message);
      alteredMessage[5] = (alteredMessage[5] ?? 0) ^ 0x01;
      assert.equal(verify(algorithm, publicKey, alteredMessage, signature), false, "tampered message");
      assert.equal(verify(algorithm, publicKey, message.subarray(1), signature), false, "shortened message");

      for (let byte = 0; byte < signature.length; byte++) {
        const altered = Buffer.from(signature);
        altered[byte] = (altered[byte] ?? 0) ^ 0x04;
        assert.equal(verify(algorithm, publicKey, message, altered), false, `signature byte ${byte}`);
      }
      assert.equal(verify(algorithm, publicKey, message, signature.subarray(0, -1)), false, "truncated");
      assert.equal(verify(algorithm, publicKey, message, new Uint8Array(0)), false, "empty");

      assert.equal(verify(algorithm, publicOf(keysB, algorithm), message, signature), false, "another key");
      const otherSignature = sign(algorithm, keysB, message);
      assert.equal(verify(algorithm, publicKey, message, otherSignature), false, "another key's signature");
    });

    test(`${algorithm}: a malformed public key gives false, not an exception`, () => {
      const message = Buffer.from("m");
      const signature = sign(algorithm, keysA, message);
      for (const bad of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(65), randomBytes(33)]) {
        assert.equal(verify(algorithm, bad, message, signature), false);
      }
    });
  }
});

describe("Ed25519 against OpenSSL", () => {
  test("signatures are 64 bytes, equal OpenSSL's (deterministic) and verify with crypto.verify(null, ...)", () => {
    const privateKey = privateKeyObject(keysA, "ed25519");
    const publicKey = spki(keysA, "ed25519");
    assert.equal(
      Buffer.from(publicKey.export({ format: "der", type: "spki" })).toString("hex"),
      Buffer.from(createPublicKey(privateKey).export({ format: "der", type: "spki" })).toString("hex"),
      "the SPKI PEM holds the key OpenSSL computes from the seed",
    );
    for (const length of [0, 3, 100, 4096]) {
      const message = randomBytes(length);
      const ours = sign("ed25519", keysA, message);
      assert.equal(ours.length, 64);
      assert.equal(Buffer.from(ours).toString("hex"), nodeSign(null, message, privateKey).toString("hex"));
      assert.ok(nodeVerify(null, message, publicKey, ours));
      assert.equal(nodeVerify(null, randomBytes(length + 1), publicKey, ours), false);
      assert.equal(nodeVerify(null, message, spki(keysB, "ed25519"), ours), false);
    }
  });
});

describe("ECDSA P-256 against OpenSSL", () => {
  test("signatures are strict DER and verify with crypto.verify('sha256', ...) on the SPKI key", () => {
    const publicKey = spki(keysA, "p256");
    assert.equal(
      Buffer.from(publicKey.export({ format: "der", type: "spki" })).toString("hex"),
      Buffer.from(
        createPublicKey(privateKeyObject(keysA, "p256")).export({ format: "der", type: "spki" }),
      ).toString("hex"),
      "the SPKI PEM holds the key OpenSSL computes from the scalar",
    );
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const message = randomBytes(i * 7);
      const signature = sign("p256", keysA, message);
      const { r, s } = parseDerSignature(signature);
      assert.ok(r > 0n && r < P256_N && s > 0n && s < P256_N);
      seen.add(Buffer.from(signature).toString("hex"));
      assert.ok(nodeVerify("sha256", message, publicKey, signature), `message ${i}`);
      assert.equal(nodeVerify("sha256", randomBytes(i * 7 + 1), publicKey, signature), false);
      assert.equal(nodeVerify("sha256", message, spki(keysB, "p256"), signature), false);
    }
    assert.equal(seen.size, 40);
  });

  test("signatures are hedged: the same message twice gives two valid, different signatures", () => {
    const message = Buffer.from("same message");
    const first = sign("p256", keysA, message);
    const second = sign("p256", keysA, message);
    assert.notEqual(Buffer.from(first).toString("hex"), Buffer.from(second).toString("hex"));
    for (const signature of [first, second])
      assert.ok(verify("p256", keysA.p256.publicKey, message, signature));
  });

  test("high-S signatures verify: ours mirrored to n - s, and OpenSSL's own", () => {
    const message = Buffer.from("a high-S signature is still a valid ECDSA signature");
    const publicKey = spki(keysA, "p256");
    const { r, s } = parseDerSignature(sign("p256", keysA, message));
    const mirrored = encodeDerSignature(r, P256_N - s);
    assert.equal(parseDerSignature(mirrored).s, P256_N - s);
    assert.notEqual(s > P256_N / 2n, P256_N - s > P256_N / 2n, "one of the two is high-S");
    assert.ok(nodeVerify("sha256", message, publicKey, mirrored), "OpenSSL accepts the mirrored one");
    assert.ok(verify("p256", keysA.p256.publicKey, message, mirrored), "and so do we");

    // OpenSSL does not normalize s: about half its signatures are high-S. We need to accept all.
    const privateKey = privateKeyObject(keysA, "p256");
    let highS = 0;
    let lowS = 0;
    for (let i = 0; i < 64 && (highS < 3 || lowS < 3); i++) {
      const theirs = nodeSign("sha256", message, privateKey);
      if (parseDerSignature(theirs).s > P256_N / 2n) highS++;
      else lowS++;
      assert.ok(verify("p256", keysA.p256.publicKey, message, theirs), `OpenSSL signature ${i}`);
      assert.equal(verify("p256", keysB.p256.publicKey, message, theirs), false);
    }
    assert.ok(highS >= 3 && lowS >= 3, `saw ${highS} high-S and ${lowS} low-S OpenSSL signatures`);
  });

  test("a signature that is not DER (64-byte r||s) is refused, not misread", () => {
    const message = Buffer.from("m");
    const privateKey = privateKeyObject(keysA, "p256");
    const compact = nodeSign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
    assert.equal(compact.length, 64);
    assert.equal(verify("p256", keysA.p256.publicKey, message, compact), false);
  });
});

after(() => {
  wipe(keysA);
  wipe(keysB);
});
