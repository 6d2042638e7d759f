// The registry's own CSR check and certificate issue (src/registry/csr.ts, issue.ts), which skip
// x509's object model for speed, held to it: the certificate's signed part is the very DER x509's
// generator makes from the same inputs, OpenSSL accepts what is issued, and each malformed or
// forged request is refused. The certs-only PKCS#7 is read back by openssl and by x509.
import "reflect-metadata";
import assert from "node:assert/strict";
import { randomBytes, webcrypto } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { certificationRequest } from "../../src/derive/certificate.js";
import { deriveAll } from "../../src/derive/derivation.js";
import { certsOnlyDer } from "../../src/http/est-wire.js";
import { CLOCK_SKEW_MS, SIGNING } from "../../src/registry/authority.js";
import { type CheckedRequest, checkRequest } from "../../src/registry/csr.js";
import { issueDeviceCertificate, loadSigner, type Signer } from "../../src/registry/issue.js";
import { csrBase64, ed25519Handle, makeRegistry, newKey, openssl } from "../helpers/registry.js";

const CRL_URL = "https://registry.example:8443/crl";

async function elementCsr(algorithm: "ed25519" | "p256"): Promise<Uint8Array> {
  const pem = await certificationRequest(deriveAll(randomBytes(32)), { algorithm });
  return new Uint8Array(x509.PemConverter.decodeFirst(pem));
}

function pemOf(der: Uint8Array): string {
  return x509.PemConverter.encode(der.slice().buffer, "CERTIFICATE");
}

describe("the registry's CSR check and certificate issue", () => {
  let root = "";
  let dir = "";
  let remove = () => {};
  let signer: Signer;

  before(async () => {
    ({ root, dir, remove } = await makeRegistry());
    signer = await loadSigner(dir);
  });
  after(() => remove());

  for (const algorithm of ["ed25519", "p256"] as const) {
    test(`an ${algorithm} device's certificate is x509's generator's to the byte, and openssl verifies it; so is the next one of the same moment, patched from it`, async () => {
      const now = new Date();
      for (const step of ["encoded whole", "patched"]) {
        await sameAsGenerator(checkRequest(await elementCsr(algorithm)), now, `${algorithm}-${step}`);
      }
    });
  }

  /** `request`'s certificate issued at `now` is x509's generator's to the byte and openssl verifies it. */
  async function sameAsGenerator(request: CheckedRequest, now: Date, name: string): Promise<void> {
    const issued = issueDeviceCertificate(signer, request, { crlUrl: CRL_URL, now });
    // The reference: x509's generator with the same serial, times and extensions.
    const publicKey = new x509.PublicKey(request.publicKey);
    const reference = await x509.X509CertificateGenerator.create(
      {
        serialNumber: issued.serial,
        subject: [{ CN: [request.handle] }],
        issuer: signer.certificate.subjectName,
        notBefore: new Date(issued.notBefore),
        notAfter: new Date(issued.notAfter),
        publicKey,
        signingKey: signer.privateKey,
        signingAlgorithm: SIGNING,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webcrypto),
          signer.authorityKeyIdentifier,
          new x509.CRLDistributionPointsExtension([CRL_URL]),
        ],
      },
      webcrypto,
    );
    const ours = AsnConvert.parse(issued.der, asn.Certificate);
    const theirs = AsnConvert.parse(reference.rawData, asn.Certificate);
    assert.deepEqual(
      Buffer.from(ours.tbsCertificateRaw as ArrayBuffer),
      Buffer.from(theirs.tbsCertificateRaw as ArrayBuffer),
    );
    assert.equal(
      issued.notBefore,
      new Date(Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000).toISOString(),
    );
    const certificate = join(root, `${name}.pem`);
    writeFileSync(certificate, pemOf(issued.der));
    const verified = openssl(["verify", "-CAfile", join(dir, "ca.pem"), certificate]);
    assert.ok(verified.ok, verified.out);
    assert.match(openssl(["x509", "-noout", "-subject", "-in", certificate]).out, new RegExp(request.handle));
  }

  test("a certificate signed by another key is refused by openssl (the check above can fail)", async () => {
    const request = checkRequest(await elementCsr("ed25519"));
    const other = await loadSigner((await makeRegistry()).dir);
    const forged = issueDeviceCertificate({ ...signer, signingKey: other.signingKey }, request, {
      crlUrl: CRL_URL,
      now: new Date(),
    });
    const path = join(root, "forged.pem");
    writeFileSync(path, pemOf(forged.der));
    assert.equal(openssl(["verify", "-CAfile", join(dir, "ca.pem"), path]).ok, false);
  });

  test("openssl's own P-256 and Ed25519 requests pass, with the CN as handle", () => {
    const p256 = newKey(join(root, "p256.key"), "p256");
    const cn = "0123456789abcdef0123456789abcdef";
    assert.equal(checkRequest(Buffer.from(csrBase64(p256, cn), "base64")).handle, cn);
    const ed = newKey(join(root, "ed.key"), "ed25519");
    const handle = ed25519Handle(ed);
    assert.equal(checkRequest(Buffer.from(csrBase64(ed, handle), "base64")).handle, handle);
  });

  test("forged, mislabelled and malformed requests are refused, each with its code", async () => {
    const refused = (der: Uint8Array, code: string) =>
      assert.throws(
        () => checkRequest(der),
        (error: Error & { code?: string }) => error.code === code,
      );
    const good = await elementCsr("ed25519");
    // A flipped bit in the signature.
    const badSignature = AsnConvert.parse(good, CertificationRequest);
    const bits = new Uint8Array(badSignature.signature);
    bits[5] = (bits[5] as number) ^ 1;
    badSignature.signature = bits.buffer;
    refused(new Uint8Array(AsnConvert.serialize(badSignature)), "bad-csr");
    // The signature's algorithm is not the key's.
    const mislabelled = AsnConvert.parse(good, CertificationRequest);
    mislabelled.signatureAlgorithm = new asn.AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" });
    refused(new Uint8Array(AsnConvert.serialize(mislabelled)), "bad-csr");
    // An Ed25519 key under another device's handle (signed by its own key: only the CN lies).
    const ed = newKey(join(root, "liar.key"), "ed25519");
    refused(Buffer.from(csrBase64(ed, "0123456789abcdef0123456789abcdef"), "base64"), "handle-mismatch");
    // A CN that is no handle, an RSA key, bytes that are no request.
    const p256 = newKey(join(root, "p256b.key"), "p256");
    refused(Buffer.from(csrBase64(p256, "not-a-handle"), "base64"), "bad-csr");
    const rsa = newKey(join(root, "rsa.key"), "rsa");
    refused(Buffer.from(csrBase64(rsa, "0123456789abcdef0123456789abcdef"), "base64"), "bad-csr");
    refused(new Uint8Array(randomBytes(200)), "bad-csr");
    refused(good.subarray(0, good.length - 10), "bad-csr");
    refused(new Uint8Array([...good, 0]), "bad-csr");
    // Two CNs, signed as they are: which one would name the device?
    const handleCn = "0123456789abcdef0123456789abcdef";
    refused(Buffer.from(csrBase64(p256, `${handleCn}/CN=${handleCn}`), "base64"), "bad-csr");
  });

  test("certs-only PKCS#7: openssl prints each certificate, x509 reads back the same DER", async () => {
    const issued = issueDeviceCertificate(signer, checkRequest(await elementCsr("p256")), {
      crlUrl: CRL_URL,
      now: new Date(),
    });
    const ca = new Uint8Array(signer.certificate.rawData);
    const pkcs7 = certsOnlyDer([issued.der, ca]);
    const printed = openssl(["pkcs7", "-inform", "DER", "-print_certs"], Buffer.from(pkcs7));
    assert.ok(printed.ok, printed.out);
    assert.equal(printed.out.match(/BEGIN CERTIFICATE/g)?.length, 2);
    const read = [...new x509.X509Certificates(pkcs7.slice().buffer)].map((c) => Buffer.from(c.rawData));
    assert.deepEqual(read, [Buffer.from(issued.der), Buffer.from(ca)]);
  });
});
