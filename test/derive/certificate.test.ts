import "reflect-metadata";
import assert from "node:assert/strict";
import {
  createHash,
  createPublicKey,
  type KeyObject,
  verify as nodeVerify,
  X509Certificate,
} from "node:crypto";
import { after, describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import {
  certificationRequest,
  parseDistinguishedName,
  selfSignedCertificate,
} from "../../src/derive/certificate.js";
import { type DerivedKeys, deriveAll, wipe } from "../../src/derive/derivation.js";
import { publicKeyPem } from "../../src/derive/public-key.js";
import type { SigningAlgorithm } from "../../src/derive/signature.js";

/**
 * certificate.ts in-process: the PEM is read back with node:crypto's X509Certificate (OpenSSL),
 * with @peculiar/x509, and field by field with a small DER reader, so each claim is checked by
 * something other than the code that wrote it.
 */

const ALGORITHMS: readonly SigningAlgorithm[] = ["ed25519", "p256"];

/** Identifiers whose handles start with 0x7b, 0xc8 (top bit set), 0x00 0x70 and 0x00 0x83. */
const IDENTIFIERS = {
  low: new Uint8Array(32),
  high: Uint8Array.from({ length: 32 }, (_, i) => i + 1),
  zeroThenLow: Buffer.from(`${"0".repeat(37)}679`, "ascii"),
  zeroThenHigh: Buffer.from(`${"0".repeat(37)}657`, "ascii"),
} as const;
const HANDLES = {
  low: "7b78586079e0a9caa2ea71a6bf4bd479",
  high: "c86be89cca69499f25c21308f021ee26",
  zeroThenLow: "0070ced4d0e14f9e182403793bb28916",
  zeroThenHigh: "00838a2c33d47fcce9f1269050e78dd5",
} as const;

const derived = Object.fromEntries(
  Object.entries(IDENTIFIERS).map(([name, identifier]) => [name, deriveAll(identifier)]),
) as Record<keyof typeof IDENTIFIERS, DerivedKeys>;
after(() => {
  for (const keys of Object.values(derived)) wipe(keys);
});

const hex = (bytes: Uint8Array | ArrayBuffer): string =>
  Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString("hex");

// ---- a minimal DER reader -------------------------------------------------------------------

interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Buffer;
  readonly content: Buffer;
}

function readTlv(bytes: Buffer, at = 0): Tlv {
  const tag = bytes[at] ?? -1;
  let length = bytes[at + 1] ?? 0;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    assert.ok(count >= 1 && count <= 3, "DER length of 1..3 bytes");
    length = bytes.readUIntBE(at + 2, count);
    assert.ok(length >= 0x80, "DER long-form length is minimal");
    header += count;
  }
  const raw = bytes.subarray(at, at + header + length);
  assert.equal(raw.length, header + length, "element fits");
  return { tag, raw, content: raw.subarray(header) };
}

function children(parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < parent.content.length; ) {
    const child = readTlv(parent.content, at);
    out.push(child);
    at += child.raw.length;
  }
  return out;
}

function pemBody(pem: string, label: string): Buffer {
  const match = new RegExp(
    `^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\r?\\n?$`,
  ).exec(pem);
  assert.ok(match?.[1], `one ${label} PEM block and nothing else`);
  return Buffer.from(match[1], "base64");
}

/** Certificate / CertificationRequest: { toBeSigned, signatureAlgorithm, signature BIT STRING }. */
function signedParts(der: Buffer): { toBeSigned: Tlv; algorithm: Tlv; signature: Buffer } {
  const outer = readTlv(der);
  assert.equal(outer.raw.length, der.length, "nothing after the outer SEQUENCE");
  const [toBeSigned, algorithm, bits] = children(outer);
  assert.ok(toBeSigned && algorithm && bits);
  assert.equal(bits.tag, 0x03, "BIT STRING");
  assert.equal(bits.content[0], 0, "no unused bits");
  return { toBeSigned, algorithm, signature: bits.content.subarray(1) };
}

/** The minimal positive DER INTEGER content for a big-endian unsigned number. */
function minimalPositive(hexNumber: string): string {
  let bytes = Buffer.from(hexNumber, "hex");
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  if ((bytes[0] ?? 0) >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return bytes.toString("hex");
}

const OID = {
  ed25519: "06032b6570",
  ecdsaWithSha256: "06082a8648ce3d040302",
};

// ---- helpers on the derived keys -------------------------------------------------------------

function derivedPublicKey(keys: DerivedKeys, algorithm: SigningAlgorithm): KeyObject {
  return createPublicKey(
    publicKeyPem(algorithm, algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey),
  );
}

function spkiDer(key: KeyObject): string {
  return hex(key.export({ format: "der", type: "spki" }));
}

/** What OpenSSL's verify needs: the digest (null for Ed25519) over the to-be-signed bytes. */
function opensslVerifies(algorithm: SigningAlgorithm, key: KeyObject, parts: ReturnType<typeof signedParts>) {
  return nodeVerify(algorithm === "ed25519" ? null : "sha256", parts.toBeSigned.raw, key, parts.signature);
}

const NOW = new Date("2025-03-04T05:06:07.890Z");
const NOW_SECONDS = new Date("2025-03-04T05:06:07.000Z");
const DAY = 86_400_000;

// ---- the certificate -------------------------------------------------------------------------

describe("self-signed certificate", () => {
  for (const algorithm of ALGORITHMS) {
    test(`${algorithm}: subject, issuer, serial, extensions, key and self-signature`, async () => {
      const keys = derived.low;
      const pem = await selfSignedCertificate(keys, { algorithm, days: 30, now: NOW });
      const handle = HANDLES.low;
      assert.equal(keys.handle, handle);

      // node:crypto (OpenSSL)
      const openssl = new X509Certificate(pem);
      assert.equal(openssl.subject, `CN=${handle}\nserialNumber=${handle}`);
      assert.equal(openssl.issuer, openssl.subject);
      assert.equal(openssl.serialNumber.toLowerCase(), handle);
      assert.equal(openssl.ca, false);
      const publicKey = derivedPublicKey(keys, algorithm);
      assert.equal(spkiDer(openssl.publicKey), spkiDer(publicKey), "the certified key is the derived key");
      assert.ok(openssl.verify(publicKey), "self-signature verifies under the derived key");
      assert.equal(openssl.verify(derivedPublicKey(derived.high, algorithm)), false, "not under another key");

      // @peculiar/x509
      const parsed = new x509.X509Certificate(pem);
      assert.deepEqual(parsed.subjectName.toJSON(), [{ CN: [handle] }, { "2.5.4.5": [handle] }]);
      assert.equal(parsed.serialNumber, handle);
      const basic = parsed.getExtension(x509.BasicConstraintsExtension);
      assert.ok(basic, "basicConstraints present");
      assert.equal(basic.ca, false);
      assert.equal(basic.critical, true);
      assert.equal(basic.pathLength, undefined);
      const usage = parsed.getExtension(x509.KeyUsagesExtension);
      assert.ok(usage, "keyUsage present");
      assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature, "digitalSignature and nothing else");
      assert.equal(usage.critical, true);
      const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
      assert.ok(ski, "subjectKeyIdentifier present");
      assert.equal(ski.critical, false);
      assert.equal(parsed.extensions.length, 3, "no other extensions");
      assert.ok(await parsed.verify({ signatureOnly: true }), "peculiar verifies the self-signature");

      // DER, field by field
      const parts = signedParts(pemBody(pem, "CERTIFICATE"));
      const [version, serial, signatureAlgorithm, , , , spki] = children(parts.toBeSigned);
      assert.ok(version && serial && signatureAlgorithm && spki);
      assert.equal(version.raw.toString("hex"), "a003020102", "X.509 v3");
      assert.equal(serial.tag, 0x02);
      assert.equal(serial.content.toString("hex"), minimalPositive(handle));
      const expectedAlgorithm = algorithm === "ed25519" ? `3005${OID.ed25519}` : `300a${OID.ecdsaWithSha256}`;
      assert.equal(signatureAlgorithm.raw.toString("hex"), expectedAlgorithm);
      assert.equal(parts.algorithm.raw.toString("hex"), expectedAlgorithm);
      assert.ok(opensslVerifies(algorithm, publicKey, parts), "crypto.verify over the TBSCertificate");
      // RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING's bits.
      const [, subjectPublicKey] = children(spki);
      assert.ok(subjectPublicKey);
      assert.equal(ski.keyId, createHash("sha1").update(subjectPublicKey.content.subarray(1)).digest("hex"));
    });

    test(`${algorithm}: validity is [now, now + days], to the second`, async () => {
      for (const days of [1, 30, 365, 3650]) {
        const pem = await selfSignedCertificate(derived.low, { algorithm, days, now: NOW });
        const parsed = new x509.X509Certificate(pem);
        assert.equal(parsed.notBefore.toISOString(), NOW_SECONDS.toISOString());
        assert.equal(parsed.notAfter.getTime() - parsed.notBefore.getTime(), days * DAY, `${days} days`);
        const openssl = new X509Certificate(pem);
        assert.equal(Date.parse(openssl.validFrom), NOW_SECONDS.getTime());
        assert.equal(Date.parse(openssl.validTo), NOW_SECONDS.getTime() + days * DAY);
      }
    });

    test(`${algorithm}: validity past 2049 switches to GeneralizedTime (RFC 5280 4.1.2.5)`, async () => {
      const now = new Date("2045-06-01T00:00:00Z");
      const pem = await selfSignedCertificate(derived.low, { algorithm, days: 3650, now });
      const [, , , , validity] = children(signedParts(pemBody(pem, "CERTIFICATE")).toBeSigned);
      assert.ok(validity);
      const [notBefore, notAfter] = children(validity);
      assert.equal(notBefore?.tag, 0x17, "UTCTime before 2050");
      assert.equal(notAfter?.tag, 0x18, "GeneralizedTime from 2050");
      assert.equal(notAfter?.content.toString("ascii"), "20550530000000Z");
      const openssl = new X509Certificate(pem);
      assert.equal(Date.parse(openssl.validTo), now.getTime() + 3650 * DAY);
    });

    test(`${algorithm}: serial number = handle, positive and minimal whatever the first byte`, async () => {
      for (const name of Object.keys(IDENTIFIERS) as (keyof typeof IDENTIFIERS)[]) {
        const keys = derived[name];
        const handle = HANDLES[name];
        assert.equal(keys.handle, handle, name);
        const pem = await selfSignedCertificate(keys, { algorithm, days: 1, now: NOW });
        const [, serial] = children(signedParts(pemBody(pem, "CERTIFICATE")).toBeSigned);
        assert.ok(serial);
        assert.equal(serial.content.toString("hex"), minimalPositive(handle), `DER serial for ${name}`);
        assert.ok((serial.content[0] ?? 0) < 0x80, "positive");
        assert.ok(
          !(serial.content[0] === 0 && (serial.content[1] ?? 0) < 0x80),
          "no leading zero byte it does not need",
        );
        const openssl = new X509Certificate(pem);
        assert.equal(BigInt(`0x${openssl.serialNumber}`), BigInt(`0x${handle}`), "same number as the handle");
        assert.equal(openssl.subject, `CN=${handle}\nserialNumber=${handle}`, "the names keep every digit");
        assert.ok(openssl.verify(derivedPublicKey(keys, algorithm)));
      }
      // A handle with a leading zero byte is the same number but a shorter hex serial.
      const zero = new X509Certificate(
        await selfSignedCertificate(derived.zeroThenLow, { algorithm, days: 1, now: NOW }),
      );
      assert.equal(zero.serialNumber.toLowerCase(), HANDLES.zeroThenLow.slice(2));
    });

    test(`${algorithm}: a certificate does not contain the private key`, async () => {
      const keys = derived.high;
      const der = pemBody(await selfSignedCertificate(keys, { algorithm, days: 1, now: NOW }), "CERTIFICATE");
      const secret = algorithm === "ed25519" ? keys.ed25519.seed : keys.p256.scalar;
      assert.equal(der.includes(Buffer.from(secret)), false);
    });
  }

  test("the two algorithms certify two different keys under the same name", async () => {
    const ed = new X509Certificate(
      await selfSignedCertificate(derived.low, { algorithm: "ed25519", days: 1, now: NOW }),
    );
    const p = new X509Certificate(
      await selfSignedCertificate(derived.low, { algorithm: "p256", days: 1, now: NOW }),
    );
    assert.equal(ed.subject, p.subject);
    assert.equal(ed.publicKey.asymmetricKeyType, "ed25519");
    assert.equal(p.publicKey.asymmetricKeyType, "ec");
    assert.equal(p.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(ed.verify(p.publicKey), false);
  });
});

// ---- the certification request ---------------------------------------------------------------

describe("certification request (PKCS#10)", () => {
  for (const algorithm of ALGORITHMS) {
    test(`${algorithm}: default subject is the certificate's; the key and signature check out`, async () => {
      const keys = derived.high;
      const pem = await certificationRequest(keys, { algorithm });
      const csr = new x509.Pkcs10CertificateRequest(pem);
      assert.deepEqual(csr.subjectName.toJSON(), [{ CN: [HANDLES.high] }, { "2.5.4.5": [HANDLES.high] }]);
      const publicKey = derivedPublicKey(keys, algorithm);
      assert.equal(hex(csr.publicKey.rawData), spkiDer(publicKey), "the requested key is the derived key");
      assert.ok(await csr.verify(), "peculiar verifies the request's signature");
      const usage = csr.extensions.find((extension) => extension instanceof x509.KeyUsagesExtension);
      assert.ok(usage instanceof x509.KeyUsagesExtension, "keyUsage is requested");
      assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature);

      const parts = signedParts(pemBody(pem, "CERTIFICATE REQUEST"));
      const [version] = children(parts.toBeSigned);
      assert.equal(version?.raw.toString("hex"), "020100", "PKCS#10 v1");
      const expectedAlgorithm = algorithm === "ed25519" ? `3005${OID.ed25519}` : `300a${OID.ecdsaWithSha256}`;
      assert.equal(parts.algorithm.raw.toString("hex"), expectedAlgorithm);
      assert.ok(opensslVerifies(algorithm, publicKey, parts), "crypto.verify over CertificationRequestInfo");
      assert.equal(opensslVerifies(algorithm, derivedPublicKey(derived.low, algorithm), parts), false);

      const altered = Buffer.from(parts.toBeSigned.raw);
      altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
      assert.equal(
        nodeVerify(algorithm === "ed25519" ? null : "sha256", altered, publicKey, parts.signature),
        false,
        "a changed request does not verify",
      );
    });

    test(`${algorithm}: a custom subject is used as given`, async () => {
      const subject = parseDistinguishedName("CN=device-7, O=Acme Corp, C=DE");
      const pem = await certificationRequest(derived.low, { algorithm, subject });
      const csr = new x509.Pkcs10CertificateRequest(pem);
      assert.deepEqual(csr.subjectName.toJSON(), [{ CN: ["device-7"] }, { O: ["Acme Corp"] }, { C: ["DE"] }]);
      assert.ok(await csr.verify());
      const parts = signedParts(pemBody(pem, "CERTIFICATE REQUEST"));
      assert.ok(opensslVerifies(algorithm, derivedPublicKey(derived.low, algorithm), parts));
    });
  }

  test("parseDistinguishedName keeps a good name, matches types without case, and refuses bad ones", () => {
    assert.equal(parseDistinguishedName("CN=device-7, O=Acme Corp").toString(), "CN=device-7, O=Acme Corp");
    assert.equal(parseDistinguishedName("cn=device-7, o=Acme Corp").toString(), "CN=device-7, O=Acme Corp");
    for (const bad of ["", "CN=", "CN=a,,", "C=DEU", "FOO=1", "garbage", "=x"]) {
      assert.throws(() => parseDistinguishedName(bad), Error, `'${bad}' was accepted`);
    }
  });
});
