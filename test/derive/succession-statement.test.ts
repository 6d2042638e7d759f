import assert from "node:assert/strict";
import { createPublicKey, ECDH, verify as nodeVerify } from "node:crypto";
import { describe, test } from "node:test";
import { deriveAll } from "../../src/derive/derivation.js";
import { publicKeyObject, publicKeySpki, spkiKey } from "../../src/derive/public-key.js";
import type { SigningAlgorithm } from "../../src/derive/signature.js";
import {
  countersigned,
  encodeStatement,
  namesItsKey,
  parseStatement,
  publicKeysOf,
  type SuccessionStatement,
  signStatement,
  verifySuccession,
} from "../../src/derive/succession-statement.js";

/**
 * The statement both sides of a succession read (docs/spec.md §10.9): its canonical bytes, written
 * out here byte for byte, its signatures checked against OpenSSL's verify, and every known-bad
 * form refused.
 */

const outgoing = deriveAll(new Uint8Array(32));
const incoming = deriveAll(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
const other = deriveAll(new Uint8Array(32).fill(7));
const AT = "2025-01-02T03:04:05.678Z";
const ALGORITHMS: readonly SigningAlgorithm[] = ["ed25519", "p256"];

const succession: SuccessionStatement = {
  v: 1,
  type: "succession",
  registry: "https://registry.example:8443",
  predecessor: outgoing.handle,
  handle: incoming.handle,
  publicKeys: publicKeysOf(incoming),
  generation: 2,
  at: AT,
};

const bytes = (text: string) => new TextEncoder().encode(text);
const b64 = (data: Uint8Array) => Buffer.from(data).toString("base64url");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64url"));

describe("the statement's bytes", () => {
  test("a succession and a retirement are canonical JSON in the format's order, whatever order they were given in", () => {
    const shuffled = { ...succession, at: AT, v: 1 } as SuccessionStatement;
    const expected =
      `{"v":1,"type":"succession","registry":"https://registry.example:8443","predecessor":"${outgoing.handle}",` +
      `"handle":"${incoming.handle}","publicKeys":{"ed25519":"${b64(incoming.ed25519.publicKey)}",` +
      `"p256":"${b64(incoming.p256.publicKey)}"},"generation":2,"at":"${AT}"}`;
    assert.equal(new TextDecoder().decode(encodeStatement(shuffled)), expected);
    assert.deepEqual(parseStatement(bytes(expected)), succession);
    const retirement = `{"v":1,"type":"retirement","registry":"https://r","handle":"${outgoing.handle}","at":"${AT}"}`;
    assert.deepEqual(parseStatement(bytes(retirement)), {
      v: 1,
      type: "retirement",
      registry: "https://r",
      handle: outgoing.handle,
      at: AT,
    });
    assert.ok(namesItsKey(succession));
    assert.ok(!namesItsKey({ ...succession, handle: other.handle }));
  });

  test("another order, blanks, an extra member, a float, a bad handle, key or time are refused", () => {
    const good = new TextDecoder().decode(encodeStatement(succession));
    const bad = [
      good.replace('"v":1,"type":"succession"', '"type":"succession","v":1'),
      good.replace('"v":1,', '"v": 1,'),
      good.replace('"at"', '"extra":1,"at"'),
      good.replace('"generation":2', '"generation":2.5'),
      good.replace('"generation":2', '"generation":2.0'),
      good.replace('"generation":2', '"generation":0'),
      good.replace(incoming.handle, incoming.handle.toUpperCase()),
      good.replace(b64(incoming.ed25519.publicKey), b64(incoming.ed25519.publicKey.subarray(1))),
      good.replace(AT, "2025-01-02T03:04:05Z"),
      good.replace('"v":1', '"v":2'),
      good.replace('"succession"', '"adoption"'),
      "not json",
      `${good} `,
    ];
    for (const text of bad) {
      assert.throws(() => parseStatement(bytes(text)), { code: "bad-statement" }, text);
    }
    assert.throws(() => parseStatement(new Uint8Array(3000).fill(32)), { code: "bad-statement" });
  });
});

describe("the statement's signatures", () => {
  for (const algorithm of ALGORITHMS) {
    test(`${algorithm}: the old key signs, the new key countersigns, OpenSSL agrees, and each known-bad signature fails`, () => {
      const signed = signStatement(succession, algorithm, outgoing, incoming);
      const statement = unb64(signed.statement);
      const signature = unb64(signed.signature);
      const countersignature = unb64(signed.countersignature ?? "");
      const key = (keys: typeof outgoing) =>
        algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey;
      const predecessor = spkiKey(publicKeySpki(algorithm, key(outgoing)));
      if (!predecessor) assert.fail("the SPKI did not read");
      assert.deepEqual(
        { algorithm: predecessor.algorithm, publicKey: predecessor.publicKey },
        { algorithm, publicKey: key(outgoing) },
      );
      assert.ok(predecessor.key.equals(publicKeyObject(algorithm, key(outgoing))));
      assert.deepEqual(
        verifySuccession(statement, succession, { signature, countersignature }, predecessor),
        {
          signature: true,
          countersignature: true,
        },
      );
      const digest = algorithm === "ed25519" ? null : "sha256";
      assert.ok(nodeVerify(digest, statement, publicKeyObject(algorithm, key(outgoing)), signature));
      assert.ok(
        nodeVerify(
          digest,
          countersigned(statement, signature),
          publicKeyObject(algorithm, key(incoming)),
          countersignature,
        ),
      );

      // Signed by another key; countersigned by another key; a statement changed after signing.
      const forged = signStatement(succession, algorithm, other, incoming);
      assert.equal(
        verifySuccession(
          statement,
          succession,
          { signature: unb64(forged.signature), countersignature },
          predecessor,
        ).signature,
        false,
      );
      const stolen = signStatement(succession, algorithm, outgoing, other);
      assert.equal(
        verifySuccession(
          statement,
          succession,
          { signature, countersignature: unb64(stolen.countersignature ?? "") },
          predecessor,
        ).countersignature,
        false,
      );
      const changed = { ...succession, generation: 3 };
      assert.deepEqual(
        verifySuccession(encodeStatement(changed), changed, { signature, countersignature }, predecessor),
        { signature: false, countersignature: false },
      );
    });
  }

  test("a retirement carries one signature; an SPKI of another key type has no algorithm", () => {
    const signed = signStatement(
      { v: 1, type: "retirement", registry: "https://r", handle: outgoing.handle, at: AT },
      "ed25519",
      outgoing,
    );
    assert.equal(signed.countersignature, undefined);
    assert.ok(
      nodeVerify(
        null,
        unb64(signed.statement),
        publicKeyObject("ed25519", outgoing.ed25519.publicKey),
        unb64(signed.signature),
      ),
    );
    assert.equal(spkiKey(publicKeySpki("x25519", outgoing.x25519.publicKey)), null);
    assert.equal(spkiKey(new Uint8Array([1, 2, 3])), null);
    // P-256 as a compressed point; a point off the curve; trailing bytes after the key.
    const p256 = publicKeySpki("p256", outgoing.p256.publicKey);
    const point = ECDH.convertKey(outgoing.p256.publicKey, "prime256v1", undefined, undefined, "compressed");
    const compressedSpki = Buffer.concat([
      Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"),
      point as Buffer,
    ]);
    assert.ok(createPublicKey({ key: compressedSpki, format: "der", type: "spki" }), "openssl reads it");
    assert.equal(spkiKey(compressedSpki), null);
    const offCurve = Buffer.from(p256);
    offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] as number) ^ 1;
    assert.equal(spkiKey(offCurve), null);
    assert.equal(spkiKey(new Uint8Array([...p256, 0])), null);
    assert.deepEqual(spkiKey(p256)?.publicKey, outgoing.p256.publicKey);
  });
});
