// The EST answer's certs-only PKCS#7 (src/http/est-wire.ts), written directly as DER, held to an
// ASN.1 encoder's output for the same structure (asn1js, the peer) byte for byte, across every
// boundary of DER's length forms (127/128, 255/256, 65535/65536) at each of its nested headers;
// read back by openssl and by x509 with real certificates; and its base64 body held to the
// base64 of RFC 7030 §4 (lines of 64 characters) read back by the body parser.
import "reflect-metadata";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { encoded } from "../../src/derive/encoded.js";
import { base64Body, certsOnlyDer, derOfBody } from "../../src/http/est-wire.js";
import { openssl } from "../helpers/registry.js";

const crypto = webcrypto;

/** The same certs-only SignedData (RFC 5652 §5) built by an ASN.1 encoder: the peer. */
function peerCertsOnly(certificates: readonly Uint8Array[]): Uint8Array {
  const explicit = (value: asn1js.AsnType[]) =>
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value });
  const signedData = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Set({ value: [] }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.1" })] }),
      explicit(certificates.map(encoded)),
      new asn1js.Set({ value: [] }),
    ],
  });
  const contentInfo = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.2" }), explicit([signedData])],
  });
  return new Uint8Array(contentInfo.toBER());
}

/** The header's size of a DER OCTET STRING (tag and length) holding `content` bytes. */
function headerFor(content: number): number {
  return content < 0x80 ? 2 : content < 0x100 ? 3 : content < 0x10000 ? 4 : 5;
}

/** The content of a DER OCTET STRING of exactly `size` bytes in all; null: no such one (e.g. 130). */
function contentFor(size: number): number | null {
  for (let content = size - 2; content >= 0 && content >= size - 5; content--) {
    if (content + headerFor(content) === size) return content;
  }
  return null;
}

/** A DER OCTET STRING of exactly `size` bytes in all: a stand-in for a certificate whose length is chosen. */
function blob(size: number, fill: number): Uint8Array {
  const content = contentFor(size);
  assert.ok(content !== null, `no DER OCTET STRING is exactly ${size} bytes long`);
  const header = headerFor(content);
  const lengthBytes = Array.from(
    { length: header - 2 },
    (_, i) => (content >> (8 * (header - 3 - i))) & 0xff,
  );
  return Uint8Array.of(
    0x04,
    ...(header === 2 ? [content] : [0x80 | (header - 2), ...lengthBytes]),
    ...new Uint8Array(content).fill(fill),
  );
}

/** `count` stand-ins of exactly `total` bytes together: small ones, then the rest in the last. */
function blobs(total: number, count: number): Uint8Array[] {
  for (let first = 10; first < 20; first++) {
    const last = total - first - 12 * (count - 2);
    if (count === 1 ? contentFor(total) !== null : contentFor(last) !== null) {
      if (count === 1) return [blob(total, 0x11)];
      return [
        blob(first, 0x22),
        ...Array.from({ length: count - 2 }, () => blob(12, 0x33)),
        blob(last, 0x44),
      ];
    }
  }
  return [];
}

/** Read back by asn1js: the certificates field's elements, each as the DER it was. */
function certificatesIn(der: Uint8Array): Uint8Array[] {
  const parsed = asn1js.fromBER(der);
  assert.equal(parsed.offset, der.length, "nothing after the ContentInfo");
  const contentInfo = parsed.result as asn1js.Sequence;
  const [type, content] = contentInfo.valueBlock.value as [asn1js.ObjectIdentifier, asn1js.Constructed];
  assert.equal(type.valueBlock.toString(), "1.2.840.113549.1.7.2");
  const signedData = content.valueBlock.value[0] as asn1js.Sequence;
  const fields = signedData.valueBlock.value;
  assert.equal(fields.length, 5);
  assert.equal((fields[0] as asn1js.Integer).valueBlock.valueDec, 1);
  assert.equal((fields[4] as asn1js.Set).valueBlock.value.length, 0, "no signers");
  return (fields[3] as asn1js.Constructed).valueBlock.value.map((element) => new Uint8Array(element.toBER()));
}

async function certificate(name: string, padding: number): Promise<Uint8Array> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const made = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "01",
      name: [{ CN: [name] }],
      notBefore: new Date("2026-01-01T00:00:00Z"),
      notAfter: new Date("2027-01-01T00:00:00Z"),
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      // A private extension of `padding` bytes: a certificate as large as the test needs.
      extensions:
        padding === 0 ? [] : [new x509.Extension("1.3.6.1.4.1.99999.1", false, new Uint8Array(padding))],
    },
    crypto,
  );
  return new Uint8Array(made.rawData);
}

describe("the certs-only PKCS#7 of an EST answer", () => {
  test("is the encoder's DER to the byte for 0, 1 and 3 certificates, across every length form", () => {
    assert.deepEqual(certsOnlyDer([]), peerCertsOnly([]));
    let compared = 0;
    /** The ContentInfo's first length byte seen: each form (short, 1, 2 and 3 bytes) must be. */
    const forms = new Set<number>();
    // Each range moves the certificates' total, and so each of the four nested lengths, over a
    // boundary of the length's forms: below 128 (short), one byte, two bytes, three bytes.
    const totals = [
      ...Array.from({ length: 200 }, (_, i) => 60 + i),
      ...Array.from({ length: 60 }, (_, i) => 65_490 + i),
    ];
    for (const total of totals) {
      // One stand-in cannot be every size (130 bytes is no DER element's); three always can.
      const three = blobs(total, 3);
      assert.equal(
        three.reduce((sum, part) => sum + part.length, 0),
        total,
      );
      for (const certificates of [blobs(total, 1), three]) {
        if (certificates.length === 0) continue;
        const der = certsOnlyDer(certificates);
        assert.deepEqual(der, peerCertsOnly(certificates), `${certificates.length} of ${total} bytes`);
        assert.deepEqual(certificatesIn(der), certificates);
        forms.add(Math.max(der[1] as number, 0x7f));
        compared++;
      }
    }
    assert.ok(compared > 2 * 250);
    assert.deepEqual([...forms].sort(), [0x7f, 0x81, 0x82, 0x83]);
  });

  test("a byte out of place is seen (the comparison above can fail)", () => {
    const certificates = [blob(300, 0x55)];
    const der = certsOnlyDer(certificates);
    const changed = der.slice();
    changed[changed.length - 3] = (changed[changed.length - 3] as number) ^ 1;
    assert.notDeepEqual(changed, peerCertsOnly(certificates));
    assert.throws(() => assert.deepEqual(certificatesIn(changed), certificates));
  });

  test("openssl prints each certificate and x509 reads back the same DER, small to over 64 KiB", async () => {
    const small = await certificate("small", 0);
    const mid = await certificate("mid", 300);
    const large = await certificate("large", 70_000);
    assert.ok(large.length > 65_535);
    for (const certificates of [[small], [large], [small, mid, large]]) {
      const der = certsOnlyDer(certificates);
      assert.deepEqual(der, peerCertsOnly(certificates));
      const printed = openssl(["pkcs7", "-inform", "DER", "-print_certs"], Buffer.from(der));
      assert.ok(printed.ok, printed.out);
      assert.equal(printed.out.match(/BEGIN CERTIFICATE/g)?.length, certificates.length);
      const read = [...new x509.X509Certificates(der.slice().buffer)].map((c) => new Uint8Array(c.rawData));
      assert.deepEqual(read, certificates);
    }
  });

  test("openssl refuses one cut short (the read-back above can fail)", async () => {
    const der = certsOnlyDer([await certificate("cut", 0)]);
    assert.equal(
      openssl(["pkcs7", "-inform", "DER", "-print_certs"], Buffer.from(der.subarray(0, -3))).ok,
      false,
    );
  });
});

describe("an EST body", () => {
  test("is base64 in lines of 64 characters, each line ended, and reads back to the DER", () => {
    for (const size of [0, 1, 47, 48, 49, 95, 96, 97, 700, 4096]) {
      const der = new Uint8Array(size).map((_, i) => (i * 37 + size) & 0xff);
      const body = base64Body(der);
      const lines = body === "" ? [] : body.slice(0, -1).split("\n");
      assert.equal(body, lines.map((line) => `${line}\n`).join(""), "every line ends with a line break");
      assert.ok(lines.every((line, i) => (i < lines.length - 1 ? line.length === 64 : line.length <= 64)));
      assert.equal(lines.join(""), Buffer.from(der).toString("base64"));
      if (size > 0) assert.deepEqual(derOfBody(body), der);
    }
    // A subarray's own bytes, not its buffer's.
    const whole = Uint8Array.of(1, 2, 3, 4, 5, 6);
    assert.equal(base64Body(whole.subarray(2, 5)), `${Buffer.from([3, 4, 5]).toString("base64")}\n`);
  });
});
