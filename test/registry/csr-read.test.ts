// The registry's read of a PKCS#10 request (src/registry/csr.ts readRequest), a walk over its DER,
// held to an ASN.1 decoder's reading of the same bytes (asn1js, the peer): every field equal for
// the element's requests and openssl's with each string type a CN may take, and for thousands of
// requests changed a byte at a time, cut short or lengthened, the walk accepts none the decoder
// refuses, and reads the same fields from any both accept. Requests in BER rather than DER (a
// length in more bytes than it needs) are refused, as PKCS#10's signed bytes are DER.
import "reflect-metadata";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { certificationRequest } from "../../src/derive/certificate.js";
import { deriveAll } from "../../src/derive/derivation.js";
import { spkiKey } from "../../src/derive/public-key.js";
import { type ReadRequest, readRequest } from "../../src/registry/csr.js";
import { newKey } from "../helpers/registry.js";

/** The peer's reading, or "throws": the decoder fails with an exception on some bytes (a BMPString of odd length). */
function peerReading(der: Uint8Array): ReadRequest | null | "throws" {
  try {
    return peerRead(der);
  } catch {
    return "throws";
  }
}

/** The same reading by an ASN.1 decoder: the peer. */
function peerRead(der: Uint8Array): ReadRequest | null {
  const decoded = asn1js.fromBER(der, { parseEmbedded: false, copyInput: false });
  if (decoded.offset !== der.byteLength) return null;
  const seq = (block: unknown, length?: number): asn1js.AsnType[] | null => {
    if (!(block instanceof asn1js.Sequence)) return null;
    const elements = block.valueBlock.value as asn1js.AsnType[];
    return length === undefined || elements.length === length ? elements : null;
  };
  const [info, algorithm, signature] = seq(decoded.result, 3) ?? [];
  const [version, subject, spki] = seq(info, 4) ?? seq(info, 3) ?? [];
  const [keyAlgorithm, keyBits] = seq(spki, 2) ?? [];
  const signatureAlgorithm = seq(algorithm)?.[0];
  if (
    !(version instanceof asn1js.Integer && version.valueBlock.valueDec === 0) ||
    !seq(keyAlgorithm) ||
    !(keyBits instanceof asn1js.BitString && keyBits.valueBlock.unusedBits === 0) ||
    !(signature instanceof asn1js.BitString && signature.valueBlock.unusedBits === 0) ||
    !(signatureAlgorithm instanceof asn1js.ObjectIdentifier)
  ) {
    return null;
  }
  const commonNames: string[] = [];
  for (const set of seq(subject) ?? [null]) {
    if (!(set instanceof asn1js.Set)) return null;
    for (const attribute of set.valueBlock.value) {
      const [type, value] = seq(attribute, 2) ?? [];
      if (!(type instanceof asn1js.ObjectIdentifier)) return null;
      if (type.valueBlock.toString() !== "2.5.4.3") continue;
      if (!(value instanceof asn1js.BaseStringBlock)) return null;
      commonNames.push(value.getValue());
    }
  }
  return {
    signed: (info as asn1js.Sequence).valueBeforeDecodeView,
    commonNames,
    publicKey: (spki as asn1js.Sequence).valueBeforeDecodeView,
    keyBits: keyBits.valueBlock.valueHexView,
    signatureAlgorithm: signatureAlgorithm.valueBlock.toString(),
    signature: signature.valueBlock.valueHexView,
  };
}

/** Whether a reading's signature verifies with its own key (what checkRequest goes on to check). */
function signatureVerifies(read: ReadRequest | null): boolean {
  const key = read === null ? null : spkiKey(read.publicKey);
  if (read === null || key === null) return false;
  try {
    return verify(key.algorithm === "ed25519" ? null : "sha256", read.signed, key.key, read.signature);
  } catch {
    return false;
  }
}

/** Whether `der` is a request in DER: encoded again from what another library parses, it is the same bytes. */
function isDer(der: Uint8Array): boolean {
  try {
    const again = new Uint8Array(AsnConvert.serialize(AsnConvert.parse(der, CertificationRequest)));
    return Buffer.from(again).equals(Buffer.from(der));
  } catch {
    return false;
  }
}

/**
 * A reading as plain values, to compare. A CN's characters beyond printable ASCII as "?": bytes
 * that are not UTF-8 in a UTF8String are U+FFFD to the walk and Latin-1 to the decoder, and no
 * handle has such characters (32 lowercase hex digits) whichever they are.
 */
function plain(read: ReadRequest | null) {
  if (read === null) return null;
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
  return {
    signed: hex(read.signed),
    commonNames: read.commonNames.map((name) => name.replace(/[^\x20-\x7e]/g, "?")),
    publicKey: hex(read.publicKey),
    keyBits: hex(read.keyBits),
    signatureAlgorithm: read.signatureAlgorithm,
    signature: hex(read.signature),
  };
}

/** openssl's request for `subject` with its string types chosen by `mask` (req's string_mask). */
function opensslRequest(root: string, key: string, subject: string, mask: string): Uint8Array {
  const config = join(root, `req-${mask.replace(/\W/g, "")}.cnf`);
  writeFileSync(config, `[req]\ndistinguished_name = dn\nstring_mask = ${mask}\n[dn]\n`);
  const made = spawnSync("openssl", [
    "req",
    "-new",
    "-config",
    config,
    "-key",
    key,
    "-subj",
    subject,
    "-utf8",
    "-outform",
    "DER",
  ]);
  assert.equal(made.status, 0, made.stderr.toString());
  return new Uint8Array(made.stdout);
}

describe("the registry's read of a PKCS#10 request", () => {
  let root = "";
  const requests: { name: string; der: Uint8Array }[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "reid-csr-read-"));
    for (const algorithm of ["ed25519", "p256"] as const) {
      const pem = await certificationRequest(deriveAll(randomBytes(32)), { algorithm });
      requests.push({
        name: `the element's ${algorithm}`,
        der: new Uint8Array(x509.PemConverter.decodeFirst(pem)),
      });
    }
    const handle = "0123456789abcdef0123456789abcdef";
    const p256 = newKey(join(root, "p256.key"), "p256");
    const ed25519 = newKey(join(root, "ed25519.key"), "ed25519");
    // UTF8String, PrintableString, T61String/IA5String, BMPString; and a subject of several RDNs.
    for (const mask of ["utf8only", "nombstr", "MASK:0x4", "MASK:0x800"]) {
      requests.push({ name: `openssl's, ${mask}`, der: opensslRequest(root, p256, `/CN=${handle}`, mask) });
    }
    requests.push({
      name: "openssl's, several names",
      der: opensslRequest(root, ed25519, `/C=DE/O=Fleet/OU=Line 3/CN=${handle}/CN=x`, "utf8only"),
    });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("reads what the decoder reads from each well-formed request, every CN decoded as its type says", () => {
    for (const { name, der } of requests) {
      assert.ok(isDer(der), `${name} is DER`);
      const read = plain(readRequest(der));
      assert.notEqual(read, null, name);
      assert.deepEqual(read, plain(peerRead(der)), name);
    }
    const bmp = plain(readRequest(requests.find((r) => r.name.includes("0x800"))?.der ?? new Uint8Array()));
    assert.deepEqual(bmp?.commonNames, ["0123456789abcdef0123456789abcdef"], "a BMPString CN as UTF-16");
    assert.deepEqual(plain(readRequest(requests.at(-1)?.der ?? new Uint8Array()))?.commonNames, [
      "0123456789abcdef0123456789abcdef",
      "x",
    ]);
  });

  test("changed a byte at a time, cut or lengthened: accepts none the decoder refuses, reads the same from the rest", () => {
    let accepted = 0;
    let refused = 0;
    let peerThrew = 0;
    const onlyPeer: string[] = [];
    for (const { name, der } of requests) {
      const variants: Uint8Array[] = [
        der.subarray(0, der.length - 1),
        Uint8Array.of(...der, 0),
        new Uint8Array(0),
      ];
      for (let at = 0; at < der.length; at++) {
        for (const change of [0x01, 0x80, 0xff, 0x20]) {
          const changed = der.slice();
          changed[at] = (changed[at] as number) ^ change;
          variants.push(changed);
        }
      }
      for (const variant of variants) {
        const read = plain(readRequest(variant));
        const peer = peerReading(variant);
        if (peer === "throws") peerThrew++;
        if (read === null) {
          refused++;
          if (peer !== null && peer !== "throws") onlyPeer.push(Buffer.from(variant).toString("hex"));
          continue;
        }
        accepted++;
        // Where the decoder fails with an exception the walk reads the bytes as DER allows.
        if (peer !== "throws")
          assert.deepEqual(read, plain(peer), `${name}: a variant the decoder reads otherwise`);
      }
    }
    // Most changes break the structure; some (a byte of a key, a signature, a name) keep it.
    assert.ok(accepted > 100 && refused > 100, `${accepted} accepted, ${refused} refused`);
    // The decoder takes some the walk refuses: a SEQUENCE tagged primitive, a tag in several bytes,
    // a length that disagrees with what it holds. Those whose signature still verifies (changed
    // outside the signed part), which the registry certified before, are none of them DER: the
    // request parsed and encoded again by another ASN.1 library is not those bytes.
    const certifiable = onlyPeer.filter((hex) => signatureVerifies(peerRead(Buffer.from(hex, "hex"))));
    assert.ok(onlyPeer.length > certifiable.length && certifiable.length > 0);
    assert.deepEqual(
      certifiable.filter((hex) => isDer(Buffer.from(hex, "hex"))),
      [],
      "DER requests the walk refuses",
    );
    assert.ok(peerThrew > 0, "some bytes make the decoder throw; the walk reads them as DER allows");
  });

  test("BER the decoder takes but DER forbids is refused: a length in more bytes than it needs, or none", () => {
    const der = requests[0]?.der as Uint8Array;
    // The outer SEQUENCE's length (over 127: 0x81 and one byte) written in two bytes, 0x82 0x00 NN.
    assert.equal(der[1], 0x81);
    const ber = Uint8Array.of(0x30, 0x82, 0x00, der[2] as number, ...der.subarray(3));
    assert.notEqual(peerRead(ber), null, "the decoder takes it");
    assert.equal(readRequest(ber), null);
    // An indefinite length, ended by two zero bytes.
    const indefinite = Uint8Array.of(0x30, 0x80, ...der.subarray(3), 0, 0);
    assert.notEqual(peerRead(indefinite), null, "the decoder takes it");
    assert.equal(readRequest(indefinite), null);
    // The signature's length (65, below 128) in the long form, 0x81 0x41, the outer length one more.
    const signatureAt = der.length - 67;
    assert.deepEqual([der[signatureAt], der[signatureAt + 1]], [0x03, 0x41]);
    const long = Uint8Array.of(
      0x30,
      0x81,
      (der[2] as number) + 1,
      ...der.subarray(3, signatureAt),
      0x03,
      0x81,
      0x41,
      ...der.subarray(signatureAt + 2),
    );
    assert.notEqual(peerRead(long), null, "the decoder takes it");
    assert.equal(readRequest(long), null);
  });
});
