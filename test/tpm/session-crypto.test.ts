// The session's cryptography held to published vectors (chrisfenner/tpm-test-vectors as go-tpm
// ships them, validated against the TCG reference implementation; test/tpm/vectors/sessions.json):
// KDFa and KDFe for every hash, and StartAuthSession's salt (label SECRET) to P-256 keys by KDFe
// and to RSA-2048 keys by OAEP. The RSA vectors' OAEP seed is random, which node:crypto cannot
// fix, so their ciphertexts are opened with the vectors' private keys instead, as the TPM would.
import assert from "node:assert/strict";
import { constants, createPrivateKey, privateDecrypt } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { hashOf, type TpmHash } from "../../src/tpm/hash.js";
import { TpmReader } from "../../src/tpm/marshal/buffer.js";
import { sizedBytes, struct, u16 } from "../../src/tpm/marshal/codec.js";
import { kdfa, kdfe } from "../../src/tpm/session/kdf.js";
import { makeSalt } from "../../src/tpm/session/salt.js";
import { type PublicArea, publicArea } from "../../src/tpm/structures/public.js";

type KdfVector = [TpmHash, string, string, string, string, number, string];
interface Vectors {
  readonly kdfa: KdfVector[];
  readonly kdfe: KdfVector[];
  readonly eccSalt: {
    Name: string;
    EphemeralPrivate: string;
    PublicKey: string;
    Secret: string;
    Ciphertext: string;
  }[];
  readonly rsaSalt: {
    Name: string;
    PublicKey: string;
    PrivateKey: string;
    Secret: string;
    Ciphertext: string;
  }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("vectors/sessions.json", import.meta.url), "utf8"),
) as Vectors;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));
const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

function parsePublic(text: string): PublicArea {
  const r = new TpmReader(bytes(text));
  const area = publicArea.read(r);
  r.end("the public area");
  return area;
}

describe("KDFa and KDFe (Part 1, 11.4.10)", () => {
  for (const [name, kdf, list] of [
    ["KDFa", kdfa, vectors.kdfa],
    ["KDFe", kdfe, vectors.kdfe],
  ] as const) {
    test(`${name}: all ${list.length} published vectors (SHA-1, SHA-256, SHA-384, SHA-512, odd bit counts)`, () => {
      assert.ok(list.length >= 100);
      assert.ok(list.some((v) => v[0] === "sha256") && list.some((v) => v[5] % 8 !== 0));
      for (const [hash, key, label, u, v, bits, result] of list) {
        assert.equal(
          hex(kdf(hash, bytes(key), label, bytes(u), bytes(v), bits)),
          result,
          `${hash} ${label} ${bits}`,
        );
      }
    });
  }

  test("a changed label, context or bit count gives other bytes", () => {
    const [hash, key, label, u, v, bits, result] = vectors.kdfa.find((x) => x[0] === "sha256") as KdfVector;
    const run = (l: string, cu: string, b: number) => hex(kdfa(hash, bytes(key), l, bytes(cu), bytes(v), b));
    assert.equal(run(label, u, bits), result);
    assert.notEqual(run(`${label}X`, u, bits), result);
    assert.notEqual(run(label, `${u}00`, bits), result);
    assert.notEqual(run(label, u, bits + 8).slice(2), result);
  });
});

describe("StartAuthSession's salt", () => {
  test(`ECC P-256, nameAlg SHA-256: ${vectors.eccSalt.length} published encapsulations, salt and encryptedSalt byte for byte`, () => {
    assert.ok(vectors.eccSalt.length >= 2);
    for (const vector of vectors.eccSalt) {
      const { salt, encryptedSalt } = makeSalt(parsePublic(vector.PublicKey), bytes(vector.EphemeralPrivate));
      assert.equal(hex(salt), vector.Secret, vector.Name);
      assert.equal(hex(encryptedSalt), vector.Ciphertext, vector.Name);
    }
  });

  test("ECC: a fresh ephemeral key each time; a point off the curve is refused", () => {
    const key = parsePublic((vectors.eccSalt[0] as Vectors["eccSalt"][0]).PublicKey);
    assert.notEqual(hex(makeSalt(key).salt), hex(makeSalt(key).salt));
    if (key.type !== 0x23) throw new Error("not an ECC key");
    const bent = {
      ...key,
      unique: { x: key.unique.x, y: Uint8Array.from(key.unique.y, (b, i) => (i === 0 ? b ^ 1 : b)) },
    };
    assert.throws(() => makeSalt(bent), /not a point of P-256/);
  });

  test(`RSA-2048, nameAlg SHA-256: the vectors' private keys open the published ciphertexts and ours alike`, () => {
    assert.ok(vectors.rsaSalt.length >= 1);
    for (const vector of vectors.rsaSalt) {
      const key = parsePublic(vector.PublicKey);
      const privateKey = rsaPrivateKey(key, vector.PrivateKey);
      if (key.type !== 0x0001) throw new Error("not an RSA key");
      const scheme = key.parameters.scheme;
      const oaepHash = scheme.scheme === 0x0017 ? hashOf(scheme.hashAlg) : "sha256";
      const open = (ciphertext: Uint8Array) =>
        hex(
          privateDecrypt(
            {
              key: privateKey,
              padding: constants.RSA_PKCS1_OAEP_PADDING,
              oaepHash,
              oaepLabel: Buffer.from("SECRET\0"),
            },
            ciphertext,
          ),
        );
      assert.equal(open(bytes(vector.Ciphertext)), vector.Secret, vector.Name);
      const ours = makeSalt(key);
      assert.equal(ours.salt.length, 32);
      assert.equal(open(ours.encryptedSalt), hex(ours.salt), vector.Name);
    }
  });
});

/** The RSA private key of a vector: its TPMT_SENSITIVE holds the prime p; q, d and the CRT values follow. */
function rsaPrivateKey(key: PublicArea, sensitiveHex: string) {
  if (key.type !== 0x0001) throw new Error("not an RSA key");
  const sensitive = struct("TPMT_SENSITIVE", {
    sensitiveType: u16,
    authValue: sizedBytes("authValue"),
    seedValue: sizedBytes("seedValue"),
    sensitive: sizedBytes("sensitive"),
  }).read(new TpmReader(bytes(sensitiveHex)));
  const big = (data: Uint8Array) => BigInt(`0x${hex(data)}`);
  const n = big(key.unique);
  const e = BigInt(key.parameters.exponent || 65537);
  const p = big(sensitive.sensitive);
  const q = n / p;
  assert.equal(p * q, n);
  const d = inverse(e, (p - 1n) * (q - 1n));
  const b64 = (value: bigint) => {
    const text = value.toString(16);
    return Buffer.from(text.length % 2 ? `0${text}` : text, "hex").toString("base64url");
  };
  return createPrivateKey({
    key: {
      kty: "RSA",
      n: b64(n),
      e: b64(e),
      d: b64(d),
      p: b64(p),
      q: b64(q),
      dp: b64(d % (p - 1n)),
      dq: b64(d % (q - 1n)),
      qi: b64(inverse(q, p)),
    },
    format: "jwk",
  });
}

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [m, a % m, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}
