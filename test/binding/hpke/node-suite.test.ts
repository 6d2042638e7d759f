import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import fc from "fast-check";
import { NodeAes128Gcm } from "../../../src/binding/hpke/aes-128-gcm.js";
import { SUITE, suiteKeyPair } from "../../../src/binding/hpke/suite.js";
import { deriveKeys } from "../../../src/derive/derivation.js";

// Telemetry's suite runs @hpke/core on node:crypto primitives. It must be indistinguishable from
// @hpke/core's stock WebCrypto suite: the same keys from the same input, the same enc and
// ciphertexts, each opening what the other sealed, and the same refusals. (The RFC 9180 vectors
// in vectors.test.ts hold it to the published bytes.)
const stock = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});
const ikm = fc.uint8Array({ minLength: 32, maxLength: 32 });
const bytesOf = (buffer: ArrayBuffer) => new Uint8Array(buffer);

describe("telemetry's HPKE suite on node:crypto", () => {
  test("matches @hpke/core's stock suite byte for byte, both ways, in Auth mode", async () => {
    const messages = fc.array(fc.record({ pt: fc.uint8Array({ maxLength: 300 }), aad: fc.uint8Array() }), {
      minLength: 1,
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(ikm, ikm, ikm, messages, fc.uint8Array(), async (ikmR, ikmS, ikmE, list, info) => {
        const keys = async (suite: CipherSuite) => ({
          r: await suite.kem.deriveKeyPair(ikmR.slice().buffer),
          s: await suite.kem.deriveKeyPair(ikmS.slice().buffer),
        });
        const [ours, theirs] = [await keys(SUITE), await keys(stock)];
        for (const part of ["r", "s"] as const) {
          assert.deepEqual(
            bytesOf(await SUITE.kem.serializePublicKey(ours[part].publicKey)),
            bytesOf(await stock.kem.serializePublicKey(theirs[part].publicKey)),
          );
        }
        const sender = (suite: CipherSuite, k: typeof ours) =>
          suite.createSenderContext({
            recipientPublicKey: k.r.publicKey,
            senderKey: k.s,
            info,
            ekm: ikmE.slice().buffer,
          });
        const [ourSender, theirSender] = [await sender(SUITE, ours), await sender(stock, theirs)];
        assert.deepEqual(bytesOf(ourSender.enc), bytesOf(theirSender.enc));
        const recipient = (suite: CipherSuite, k: typeof ours) =>
          suite.createRecipientContext({
            recipientKey: k.r,
            enc: ourSender.enc,
            senderPublicKey: k.s.publicKey,
            info,
          });
        const [ourRecipient, theirRecipient] = [await recipient(SUITE, ours), await recipient(stock, theirs)];
        for (const { pt, aad } of list) {
          const sealed = bytesOf(await ourSender.seal(pt, aad));
          assert.deepEqual(bytesOf(await theirSender.seal(pt, aad)), sealed);
          assert.deepEqual(bytesOf(await theirRecipient.open(sealed, aad)), pt);
          assert.deepEqual(bytesOf(await ourRecipient.open(sealed, aad)), pt);
        }
        assert.deepEqual(
          bytesOf(await ourRecipient.export(new Uint8Array(0), 32)),
          bytesOf(await theirRecipient.export(new Uint8Array(0), 32)),
        );
      }),
      { numRuns: 30 },
    );
  });

  test("a derived pair imported whole seals as its raw secret does", async () => {
    const keys = deriveKeys(new Uint8Array(32).fill(5), ["x25519"]).x25519 as {
      secret: Uint8Array;
      publicKey: Uint8Array;
    };
    const fast = await suiteKeyPair(keys);
    const slow = await SUITE.kem.deserializePrivateKey(keys.secret);
    const recipient = await SUITE.kem.generateKeyPair();
    const seal = async (privateKey: typeof slow) =>
      bytesOf(
        (
          await SUITE.createSenderContext({
            recipientPublicKey: recipient.publicKey,
            senderKey: { privateKey, publicKey: fast.publicKey },
            ekm: new Uint8Array(32).fill(1).buffer,
          })
        ).enc,
      );
    assert.deepEqual(await seal(fast.privateKey), await seal(slow));
    const sender = await SUITE.createSenderContext({
      recipientPublicKey: recipient.publicKey,
      senderKey: fast,
    });
    const opener = await SUITE.createRecipientContext({
      recipientKey: recipient,
      enc: sender.enc,
      senderPublicKey: await SUITE.kem.deserializePublicKey(keys.publicKey),
    });
    assert.equal(Buffer.from(await opener.open(await sender.seal(Buffer.from("hi")))).toString(), "hi");
  });

  test("refuses a low-order enc, keys of the wrong size or kind, and a key from another implementation", async () => {
    const recipient = await SUITE.kem.generateKeyPair();
    const open = (enc: Uint8Array) => SUITE.createRecipientContext({ recipientKey: recipient, enc });
    // The all-zero point and 1 are of low order: their agreement is all zeros, which RFC 9180 refuses.
    await assert.rejects(open(new Uint8Array(32)));
    await assert.rejects(open(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0))));
    await assert.rejects(SUITE.kem.deserializePublicKey(new Uint8Array(31)), /32 bytes/);
    await assert.rejects(SUITE.kem.deserializePrivateKey(new Uint8Array(33)), /32 bytes/);
    await assert.rejects(SUITE.kem.importKey("jwk", { kty: "OKP", crv: "X25519", x: "AA" }, false));
    await assert.rejects(SUITE.kem.importKey("jwk", { kty: "EC", crv: "P-256", x: "AA", y: "AA" }, true));
    const foreign = await stock.kem.generateKeyPair();
    await assert.rejects(SUITE.createSenderContext({ recipientPublicKey: foreign.publicKey }));
    const good = await SUITE.createSenderContext({ recipientPublicKey: recipient.publicKey });
    assert.equal(good.enc.byteLength, 32);
  });

  test("the AEAD refuses a flipped bit anywhere, a wrong aad, a cut tag and a wrong key size", async () => {
    const context = new NodeAes128Gcm().createEncryptionContext(new Uint8Array(16).fill(7));
    const iv = new Uint8Array(12).fill(1);
    const aad = Buffer.from("aad");
    const sealed = new Uint8Array(await context.seal(iv, Buffer.from("a reading"), aad));
    assert.equal(Buffer.from(await context.open(iv, sealed, aad)).toString(), "a reading");
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const bad = sealed.slice();
      bad.set([(bad[bit >> 3] as number) ^ (1 << (bit & 7))], bit >> 3);
      await assert.rejects(context.open(iv, bad, aad), `bit ${bit}`);
    }
    await assert.rejects(context.open(iv, sealed, Buffer.from("aae")));
    await assert.rejects(context.open(iv, sealed.subarray(0, sealed.length - 1), aad));
    await assert.rejects(context.open(iv, sealed.subarray(0, 15), aad), /shorter than its tag/);
    assert.throws(() => new NodeAes128Gcm().createEncryptionContext(new Uint8Array(32)), /16 bytes/);
  });
});
