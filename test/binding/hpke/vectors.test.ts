import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SUITE } from "../../../src/binding/hpke/suite.js";

// RFC 9180, Appendix A.1.3: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, Auth mode, as
// published. The suite telemetry uses must reproduce them byte for byte.
const A13 = {
  mode: 2,
  info: "4f6465206f6e2061204772656369616e2055726e",
  ikmE: "6e6d8f200ea2fb20c30b003a8b4f433d2f4ed4c2658d5bc8ce2fef718059c9f7",
  pkEm: "23fb952571a14a25e3d678140cd0e5eb47a0961bb18afcf85896e5453c312e76",
  skEm: "ff4442ef24fbc3c1ff86375b0be1e77e88a0de1e79b30896d73411c5ff4c3518",
  ikmR: "f1d4a30a4cef8d6d4e3b016e6fd3799ea057db4f345472ed302a67ce1c20cdec",
  pkRm: "1632d5c2f71c2b38d0a8fcc359355200caa8b1ffdf28618080466c909cb69b2e",
  skRm: "fdea67cf831f1ca98d8e27b1f6abeb5b7745e9d35348b80fa407ff6958f9137e",
  ikmS: "94b020ce91d73fca4649006c7e7329a67b40c55e9e93cc907d282bbbff386f58",
  pkSm: "8b0c70873dc5aecb7f9ee4e62406a397b350e57012be45cf53b7105ae731790b",
  skSm: "dc4a146313cce60a278a5323d321f051c5707e9c45ba21a3479fecdf76fc69dd",
  enc: "23fb952571a14a25e3d678140cd0e5eb47a0961bb18afcf85896e5453c312e76",
  pt: "4265617574792069732074727574682c20747275746820626561757479",
  encryptions: [
    {
      seq: 0,
      aad: "436f756e742d30",
      ct: "5fd92cc9d46dbf8943e72a07e42f363ed5f721212cd90bcfd072bfd9f44e06b80fd17824947496e21b680c141b",
    },
    {
      seq: 1,
      aad: "436f756e742d31",
      ct: "d3736bb256c19bfa93d79e8f80b7971262cb7c887e35c26370cfed62254369a1b52e3d505b79dd699f002bc8ed",
    },
    {
      seq: 2,
      aad: "436f756e742d32",
      ct: "122175cfd5678e04894e4ff8789e85dd381df48dcaf970d52057df2c9acc3b121313a2bfeaa986050f82d93645",
    },
    {
      seq: 4,
      aad: "436f756e742d34",
      ct: "dae12318660cf963c7bcbef0f39d64de3bf178cf9e585e756654043cc5059873bc8af190b72afc43d1e0135ada",
    },
    {
      seq: 255,
      aad: "436f756e742d323535",
      ct: "55d53d85fe4d9e1e97903101eab0b4865ef20cef28765a47f840ff99625b7d69dee927df1defa66a036fc58ff2",
    },
    {
      seq: 256,
      aad: "436f756e742d323536",
      ct: "42fa248a0e67ccca688f2b1d13ba4ba84755acf764bd797c8f7ba3b9b1dc3330326f8d172fef6003c79ec72319",
    },
  ],
  exports: [
    { context: "", value: "28c70088017d70c896a8420f04702c5a321d9cbf0279fba899b59e51bac72c85" },
    { context: "00", value: "25dfc004b0892be1888c3914977aa9c9bbaf2c7471708a49e1195af48a6f29ce" },
    {
      context: "54657374436f6e74657874",
      value: "5a0131813abc9a522cad678eb6bafaabc43389934adb8097d23c5ff68059eb64",
    },
  ],
} as const;

const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const hexOf = (b: ArrayBuffer | Uint8Array) =>
  Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString("hex");

async function pair(ikm: string): Promise<import("node:crypto").webcrypto.CryptoKeyPair> {
  return SUITE.kem.deriveKeyPair(bytes(ikm).buffer as ArrayBuffer);
}

/** Seals message by message up to the highest sequence number, keeping the vectors' ones. */
async function sealAll(seal: (pt: Uint8Array, aad: Uint8Array) => Promise<ArrayBuffer>) {
  const out = new Map<number, string>();
  const wanted = new Map<number, string>(A13.encryptions.map((e) => [e.seq, e.aad]));
  for (let seq = 0; seq <= 256; seq++) {
    const aad = wanted.get(seq);
    const ct = await seal(bytes(A13.pt), aad === undefined ? new Uint8Array(0) : bytes(aad));
    if (aad !== undefined) out.set(seq, hexOf(ct));
  }
  return out;
}

describe("HPKE suite: RFC 9180 A.1.3 (Auth mode, X25519, HKDF-SHA256, AES-128-GCM)", () => {
  test("DeriveKeyPair gives the published key pairs", async () => {
    for (const [ikm, pk, sk] of [
      [A13.ikmE, A13.pkEm, A13.skEm],
      [A13.ikmR, A13.pkRm, A13.skRm],
      [A13.ikmS, A13.pkSm, A13.skSm],
    ] as const) {
      const kp = await pair(ikm);
      assert.equal(hexOf(await SUITE.kem.serializePublicKey(kp.publicKey)), pk);
      assert.equal(hexOf(await SUITE.kem.serializePrivateKey(kp.privateKey)), sk);
    }
  });

  test("the sender reproduces enc, every ciphertext and every exported value", async () => {
    const sender = await SUITE.createSenderContext({
      recipientPublicKey: await SUITE.kem.deserializePublicKey(bytes(A13.pkRm)),
      senderKey: await pair(A13.ikmS),
      info: bytes(A13.info),
      ekm: await pair(A13.ikmE),
    });
    assert.equal(hexOf(sender.enc), A13.enc);
    for (const e of A13.exports) {
      assert.equal(hexOf(await sender.export(bytes(e.context), 32)), e.value);
    }
    const sealed = await sealAll((pt, aad) => sender.seal(pt, aad));
    for (const e of A13.encryptions) assert.equal(sealed.get(e.seq), e.ct, `sequence ${e.seq}`);
  });

  test("the recipient, from the published private key, opens every ciphertext in order", async () => {
    const recipient = await SUITE.createRecipientContext({
      recipientKey: {
        privateKey: await SUITE.kem.deserializePrivateKey(bytes(A13.skRm)),
        publicKey: await SUITE.kem.deserializePublicKey(bytes(A13.pkRm)),
      },
      enc: bytes(A13.enc),
      senderPublicKey: await SUITE.kem.deserializePublicKey(bytes(A13.pkSm)),
      info: bytes(A13.info),
    });
    for (const e of A13.exports) {
      assert.equal(hexOf(await recipient.export(bytes(e.context), 32)), e.value);
    }
    // Sequence numbers advance with every open, so the messages between the vectors' are sealed
    // with a second sender context and opened too.
    const filler = await SUITE.createSenderContext({
      recipientPublicKey: await SUITE.kem.deserializePublicKey(bytes(A13.pkRm)),
      senderKey: await pair(A13.ikmS),
      info: bytes(A13.info),
      ekm: await pair(A13.ikmE),
    });
    const byseq = new Map<number, (typeof A13.encryptions)[number]>(A13.encryptions.map((e) => [e.seq, e]));
    for (let seq = 0; seq <= 256; seq++) {
      const vector = byseq.get(seq);
      const aad = vector ? bytes(vector.aad) : new Uint8Array(0);
      const ct = await filler.seal(bytes(A13.pt), aad);
      if (vector) assert.equal(hexOf(ct), vector.ct);
      assert.equal(hexOf(await recipient.open(ct, aad)), A13.pt, `sequence ${seq}`);
    }
  });

  test("the vectors' checks fail on a wrong sender key, a flipped bit or a wrong aad", async () => {
    const open = async (sender: string, ct: string, aad: string) => {
      const recipient = await SUITE.createRecipientContext({
        recipientKey: {
          privateKey: await SUITE.kem.deserializePrivateKey(bytes(A13.skRm)),
          publicKey: await SUITE.kem.deserializePublicKey(bytes(A13.pkRm)),
        },
        enc: bytes(A13.enc),
        senderPublicKey: await SUITE.kem.deserializePublicKey(bytes(sender)),
        info: bytes(A13.info),
      });
      return hexOf(await recipient.open(bytes(ct), bytes(aad)));
    };
    const first = A13.encryptions[0];
    assert.equal(await open(A13.pkSm, first.ct, first.aad), A13.pt);
    // The ephemeral key is not a sender: Auth mode refuses it as pkS.
    await assert.rejects(open(A13.pkEm, first.ct, first.aad));
    const flipped = `${first.ct.slice(0, -2)}${(Number.parseInt(first.ct.slice(-2), 16) ^ 1).toString(16).padStart(2, "0")}`;
    await assert.rejects(open(A13.pkSm, flipped, first.aad));
    await assert.rejects(open(A13.pkSm, first.ct, A13.encryptions[1].aad));
  });
});
