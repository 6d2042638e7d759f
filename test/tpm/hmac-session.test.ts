// The encrypted session's parts without a TPM: the nonce pool, the HMAC under a padded key, and a
// session's seal and open against a TPM side computed here from Part 1's formulas with node's own
// Hmac and Cipher objects (the code under test uses neither for the HMACs).
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { TPM_CC, TPMA_SESSION } from "../../src/tpm/constants.js";
import { HmacKey } from "../../src/tpm/session/hmac-key.js";
import { AUTHORIZATION_SIZE, cpHash, HmacSession } from "../../src/tpm/session/hmac-session.js";
import { kdfa } from "../../src/tpm/session/kdf.js";
import { NoncePool } from "../../src/tpm/session/nonce-pool.js";

const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

describe("nonce pool", () => {
  test("never hands out the same stretch twice, across refills", () => {
    // A filler that writes a running byte counter: any stretch handed out twice, or any overlap
    // between two nonces, shows as two equal nonces.
    let counter = 0;
    let fills = 0;
    const pool = new NoncePool(4, 8, (bytes) => {
      fills++;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at < bytes.length; at += 4) view.setUint32(at, counter++);
    });
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const nonce = pool.next();
      assert.equal(nonce.length, 4);
      assert.ok(!seen.has(hex(nonce)), `nonce ${i} was handed out before`);
      seen.add(hex(nonce));
    }
    // 100 nonces from pools of 8: 13 fills, each only once the previous pool is used up.
    assert.equal(fills, 13);
  });

  test("a nonce is a copy: changing it does not change a later one", () => {
    const pool = new NoncePool(4, 2, (bytes) => bytes.fill(7));
    const first = pool.next();
    first.fill(0);
    assert.equal(hex(pool.next()), "07070707");
  });

  test("with the CSPRNG: 20,000 session-sized nonces, all different", () => {
    const pool = new NoncePool(32);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(hex(pool.next()));
    assert.equal(seen.size, 20_000);
  });
});

describe("HMAC under a padded key", () => {
  test("equals node's HMAC-SHA-256 for keys shorter, as long as and longer than a block", () => {
    for (const keyLength of [0, 1, 32, 63, 64, 65, 100]) {
      for (const messageLength of [0, 1, 55, 56, 64, 97, 300]) {
        const key = randomBytes(keyLength);
        const message = randomBytes(messageLength);
        assert.equal(
          hex(new HmacKey(key).mac(message)),
          createHmac("sha256", key).update(message).digest("hex"),
          `key ${keyLength} bytes, message ${messageLength}`,
        );
      }
    }
  });

  test("a disposed key no longer gives the key's HMAC", () => {
    const key = randomBytes(32);
    const hmac = new HmacKey(key);
    hmac.dispose();
    assert.notEqual(hex(hmac.mac(Buffer.from("m"))), createHmac("sha256", key).update("m").digest("hex"));
  });
});

/** The TPM's side of one command, from Part 1's formulas (19.6, 21): what a session must agree with. */
function tpmSide(sessionKey: Uint8Array, authValue: Uint8Array, nonceTPM: Uint8Array) {
  const key = Buffer.concat([sessionKey, authValue]);
  const hmac = (pHash: Uint8Array, newer: Uint8Array, older: Uint8Array, attributes: number) =>
    createHmac("sha256", key)
      .update(pHash)
      .update(newer)
      .update(older)
      .update(Uint8Array.of(attributes))
      .digest();
  const cfb = (newer: Uint8Array, older: Uint8Array, data: Uint8Array, encrypt: boolean) => {
    const keyIv = kdfa("sha256", key, "CFB", newer, older, 256);
    const make = encrypt ? createCipheriv : createDecipheriv;
    return make("aes-128-cfb", keyIv.subarray(0, 16), keyIv.subarray(16)).update(data);
  };
  return {
    /** Checks the command's authorization entry; returns its nonceCaller and attributes. */
    check(code: number, names: Uint8Array[], parameters: Uint8Array, authorization: Uint8Array) {
      assert.equal(authorization.length, AUTHORIZATION_SIZE);
      const view = Buffer.from(authorization);
      assert.equal(view.readUInt16BE(4), 32);
      const nonceCaller = view.subarray(6, 38);
      const attributes = view[38] as number;
      assert.equal(view.readUInt16BE(39), 32);
      const pHash = createHash("sha256").update(Buffer.from([0, 0, code >> 8, code & 0xff]));
      for (const name of names) pHash.update(name);
      pHash.update(parameters);
      assert.equal(hex(view.subarray(41)), hex(hmac(pHash.digest(), nonceCaller, nonceTPM, attributes)));
      return { nonceCaller: Uint8Array.from(nonceCaller), attributes };
    },
    cfb,
    /** A response with `parameters` (already encrypted when it should be), by default a fresh nonceTPM. */
    respond(
      code: number,
      parameters: Uint8Array,
      nonceCaller: Uint8Array,
      attributes: number,
      nonce: Uint8Array = randomBytes(32),
    ) {
      const rpHash = createHash("sha256")
        .update(new Uint8Array(4))
        .update(Buffer.from([0, 0, code >> 8, code & 0xff]))
        .update(parameters)
        .digest();
      return { nonce, attributes, hmac: hmac(rpHash, nonce, nonceCaller, attributes) };
    },
  };
}

describe("a session's seal and open", () => {
  const sessionKey = randomBytes(32);
  const authValue = randomBytes(32);
  const names = [randomBytes(34), randomBytes(34)];

  test("NV_Write: the TPM side checks the HMAC and decrypts the data; NV_Read's answer is checked and decrypted", () => {
    const firstNonceTPM = randomBytes(32);
    const session = new HmacSession(0x02000000, Uint8Array.from(sessionKey), firstNonceTPM);
    const data = randomBytes(256);
    const parameters = Buffer.concat([Buffer.from([1, 0]), data, Buffer.from([0, 0])]);
    const authorization = new Uint8Array(AUTHORIZATION_SIZE);
    const attributes = TPMA_SESSION.continueSession | TPMA_SESSION.decrypt;
    const sealed = session.seal(TPM_CC.NV_Write, names, parameters, authValue, attributes, authorization);
    const tpm = tpmSide(sessionKey, authValue, firstNonceTPM);
    const { nonceCaller } = tpm.check(TPM_CC.NV_Write, names, parameters, authorization);
    assert.notEqual(hex(parameters.subarray(2, 258)), hex(data), "the data went out in clear");
    assert.equal(hex(tpm.cfb(nonceCaller, firstNonceTPM, parameters.subarray(2, 258), false)), hex(data));
    const answer = tpm.respond(TPM_CC.NV_Write, new Uint8Array(0), nonceCaller, attributes);
    assert.equal(session.open(sealed, new Uint8Array(0), answer), null);
    sealed.key.dispose();

    // The next command chains on the nonceTPM of that answer.
    const read = new Uint8Array([1, 0, 0, 0]);
    const readAttributes = TPMA_SESSION.continueSession | TPMA_SESSION.encrypt;
    const readSealed = session.seal(TPM_CC.NV_Read, names, read, authValue, readAttributes, authorization);
    const next = tpmSide(sessionKey, authValue, answer.nonce);
    const readCall = next.check(TPM_CC.NV_Read, names, read, authorization);
    const nonceTPM = randomBytes(32);
    const encrypted = next.cfb(nonceTPM, readCall.nonceCaller, data, true);
    const response = Buffer.concat([Buffer.from([1, 0]), encrypted]);
    const reply = next.respond(TPM_CC.NV_Read, response, readCall.nonceCaller, readAttributes, nonceTPM);
    assert.equal(session.open(readSealed, response, reply), null);
    assert.equal(hex(response.subarray(2)), hex(data));
    readSealed.key.dispose();
  });

  test("a flipped byte anywhere in the answer's parameters, nonce or HMAC is refused", () => {
    const nonceTPM = randomBytes(32);
    const tpm = tpmSide(sessionKey, new Uint8Array(0), nonceTPM);
    const attributes = TPMA_SESSION.continueSession | TPMA_SESSION.encrypt;
    const parameters = new Uint8Array([0, 32]);
    const authorization = new Uint8Array(AUTHORIZATION_SIZE);
    const fresh = () => new HmacSession(0x02000000, Uint8Array.from(sessionKey), nonceTPM);
    // A session per case: each refusal leaves its session as a broken connection would.
    const probe = fresh();
    const sealed = probe.seal(TPM_CC.GetRandom, [], parameters, new Uint8Array(0), attributes, authorization);
    const { nonceCaller } = tpm.check(TPM_CC.GetRandom, [], parameters, authorization);
    const body = Buffer.concat([Buffer.from([0, 32]), randomBytes(32)]);
    const answer = tpm.respond(TPM_CC.GetRandom, body, nonceCaller, attributes);
    const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < body.length; i++) {
      const bent = Buffer.from(body);
      bent[i] = (bent[i] as number) ^ 1;
      cases.push([`parameter byte ${i}`, bent, answer.nonce, answer.hmac]);
    }
    for (const i of [0, 31]) {
      const bent = Buffer.from(answer.nonce);
      bent[i] = (bent[i] as number) ^ 0x80;
      cases.push([`nonce byte ${i}`, body, bent, answer.hmac]);
      const bentHmac = Buffer.from(answer.hmac);
      bentHmac[i] = (bentHmac[i] as number) ^ 0x80;
      cases.push([`HMAC byte ${i}`, body, answer.nonce, bentHmac]);
    }
    for (const [what, parametersBack, nonce, hmac] of cases) {
      const copy = Buffer.from(parametersBack);
      assert.equal(probe.open(sealed, copy, { nonce, attributes, hmac }), "its HMAC does not match", what);
      assert.equal(hex(copy), hex(parametersBack), `${what}: a refused answer is not decrypted`);
    }
    // The unchanged answer passes: the refusals above are the flips', not the check's.
    assert.equal(probe.open(sealed, Buffer.from(body), answer), null);
    sealed.key.dispose();
  });

  test("cpHash is SHA-256 over the code, the names and the parameters", () => {
    const parameters = randomBytes(40);
    const code = TPM_CC.NV_Write;
    const expected = createHash("sha256")
      .update(Buffer.from([0, 0, code >> 8, code & 0xff]))
      .update(names[0] as Uint8Array)
      .update(names[1] as Uint8Array)
      .update(parameters)
      .digest("hex");
    assert.equal(hex(cpHash(code, names, parameters)), expected);
  });
});
