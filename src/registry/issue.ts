import "reflect-metadata";
import { createHash, KeyObject, sign, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { encoded } from "../derive/encoded.js";
import { describeOsError } from "../errors.js";
import { CLOCK_SKEW_MS, serialNumber } from "./authority.js";
import { REGISTRY_FILES } from "./directory.js";
import { registryCorrupt, registryFailure } from "./registry-errors.js";
import type { NewCertificate } from "./store/store.js";

/** Device certificates last 90 days: a device renews with its own key long before. */
const DEVICE_DAYS = 90;
const crypto = webcrypto;
const ID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const ID_COMMON_NAME = "2.5.4.3";

/** The registry's CA as it signs: its certificate and private key, read from the directory. */
export interface Signer {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: webcrypto.CryptoKey;
  /** The same in every certificate it signs: made once, not per certificate (half a millisecond). */
  readonly authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension;
  /** The private key as node:crypto signs with it, synchronously, on the calling thread. */
  readonly signingKey: KeyObject;
  /** The CA's subject, DER: every device certificate's issuer. */
  readonly issuer: Uint8Array;
}

export async function loadSigner(directory: string): Promise<Signer> {
  const read = (name: string) => {
    try {
      return readFileSync(join(directory, name), "utf8");
    } catch (error) {
      throw registryFailure(`cannot read ${join(directory, name)}: ${describeOsError(error)}`);
    }
  };
  const [certificatePem, keyPem] = [read(REGISTRY_FILES.caCertificate), read(REGISTRY_FILES.caKey)];
  try {
    const certificate = new x509.X509Certificate(certificatePem);
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      x509.PemConverter.decodeFirst(keyPem),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    const publicKey = await certificate.publicKey.export(crypto);
    const authorityKeyIdentifier = await x509.AuthorityKeyIdentifierExtension.create(
      publicKey,
      false,
      crypto,
    );
    const issuer = new Uint8Array(
      AsnConvert.serialize(AsnConvert.parse(certificate.rawData, asn.Certificate).tbsCertificate.subject),
    );
    return {
      certificate,
      privateKey,
      publicKey,
      authorityKeyIdentifier,
      signingKey: KeyObject.from(privateKey),
      issuer,
    };
  } catch {
    throw registryCorrupt(`${directory}'s CA certificate or key (${REGISTRY_FILES.caKey}) does not read`);
  }
}

const SIGNATURE_ALGORITHM_DER = new Uint8Array(
  AsnConvert.serialize(new asn.AlgorithmIdentifier({ algorithm: ID_ECDSA_WITH_SHA256 })),
);

/** What every device certificate says alike, encoded once: CA:FALSE, digitalSignature, clientAuth. */
const DEVICE_EXTENSIONS: readonly Uint8Array[] = [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
].map((extension) => new Uint8Array(extension.rawData));

/** The signer's key identifier and the one CRL URL a server names, encoded once per pair. */
let shared: { signer: Signer; url: string; extensions: readonly Uint8Array[] } | null = null;
function sharedExtensions(signer: Signer, url: string): readonly Uint8Array[] {
  if (shared?.signer !== signer || shared.url !== url) {
    const extensions = [signer.authorityKeyIdentifier, new x509.CRLDistributionPointsExtension([url])].map(
      (extension) => new Uint8Array(extension.rawData),
    );
    shared = { signer, url, extensions };
  }
  return shared.extensions;
}

/** The device whose certificate is made: what its checked request says (csr.ts). */
export interface CertifiedKey {
  readonly handle: string;
  /** SubjectPublicKeyInfo DER. */
  readonly publicKey: Uint8Array;
  /** The key's bits inside it: what its key identifier is the SHA-1 of (RFC 5280 §4.2.1.2). */
  readonly keyBits: Uint8Array;
}

/**
 * A device's certificate (docs/spec.md §10.7): subject CN = handle, a random positive 128-bit
 * serial, from a minute ago for 90 days, CA:FALSE, digitalSignature, clientAuth, key identifiers
 * and where its CRL is; ECDSA with SHA-256 by the registry's CA.
 *
 * It is on every enrollment's path and an import's (a million at a time), so it is not made through
 * x509's generator (which builds an object model, encodes the signed part twice, parses the result
 * back and signs through WebCrypto's thread pool) but encoded by asn1js in one pass, and the next
 * ones of the same moment and key length patched from that one (templates below); signed by
 * node:crypto on this thread. The DER is the generator's to the byte
 * (test/registry/device-certificate.test.ts holds it to that, patched ones too).
 */
export function issueDeviceCertificate(
  signer: Signer,
  device: CertifiedKey,
  options: { readonly crlUrl: string; readonly now: Date },
): NewCertificate {
  const notBefore = new Date(Math.floor((options.now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + DEVICE_DAYS * 86_400_000);
  const fields: VariableFields = {
    serial: Buffer.from(serialNumber(), "hex"),
    handle: Buffer.from(device.handle, "latin1"),
    publicKey: device.publicKey,
    keyIdentifier: createHash("sha1").update(device.keyBits).digest(),
  };
  const signed = templated(signer, options.crlUrl, notBefore, fields, () =>
    encodeTbs(signer, options.crlUrl, device, fields, notBefore, notAfter),
  );
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }: three
  // parts already encoded but the signature, put together here (asn1js's blocks cost a third of it).
  const signature = sign("sha256", signed, signer.signingKey);
  const der = tlv(0x30, [signed, SIGNATURE_ALGORITHM_DER, tlv(0x03, [NO_UNUSED_BITS, signature])]);
  return {
    serial: fields.serial.toString("hex"),
    der,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

const NO_UNUSED_BITS = new Uint8Array([0]);

/** A DER TLV of `tag` around `parts`: the length in its short form below 128, else its long form. */
function tlv(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
  const header = length < 0x80 ? [tag, length] : [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let at = header.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What differs between two certificates of one signer, CRL URL and moment: each of fixed length. */
interface VariableFields {
  /** 16 bytes, the top bit clear: the INTEGER's content as it is. */
  readonly serial: Buffer;
  /** The handle's 32 characters. */
  readonly handle: Buffer;
  /** SubjectPublicKeyInfo DER: of one length for one algorithm. */
  readonly publicKey: Uint8Array;
  /** SHA-1, 20 bytes. */
  readonly keyIdentifier: Buffer;
}

/** A TBSCertificate and where each variable field's bytes lie in it. */
interface Template {
  readonly bytes: Uint8Array;
  readonly offsets: Readonly<Record<keyof VariableFields, number>>;
}

/**
 * Templates of one signer, CRL URL and notBefore (a batch of an import, a second of a server's),
 * one per set of field lengths; null where a field's bytes were not found exactly once (then each is encoded
 * whole). Two certificates with the same fixed parts and fields of the same lengths have the same
 * structure: the second is the first's bytes with its own fields written over.
 */
let templates: {
  readonly signer: Signer;
  readonly crlUrl: string;
  readonly notBefore: number;
  /** By the lengths of the fields (the key's is one per algorithm; the others are always the same). */
  readonly byLengths: Map<string, Template | null>;
} | null = null;

function templated(
  signer: Signer,
  crlUrl: string,
  notBefore: Date,
  fields: VariableFields,
  encode: () => Uint8Array,
): Uint8Array {
  if (
    templates?.signer !== signer ||
    templates.crlUrl !== crlUrl ||
    templates.notBefore !== notBefore.getTime()
  ) {
    templates = { signer, crlUrl, notBefore: notBefore.getTime(), byLengths: new Map() };
  }
  const lengths = Object.values(fields)
    .map((field: Uint8Array) => field.length)
    .join(",");
  const template = templates.byLengths.get(lengths);
  if (template === undefined) {
    const bytes = encode();
    templates.byLengths.set(lengths, templateOf(bytes, fields));
    return bytes;
  }
  if (template === null) return encode();
  const bytes = template.bytes.slice();
  for (const name of Object.keys(template.offsets) as (keyof VariableFields)[]) {
    bytes.set(fields[name], template.offsets[name]);
  }
  return bytes;
}

function templateOf(bytes: Uint8Array, fields: VariableFields): Template | null {
  const haystack = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const offsets: Partial<Record<keyof VariableFields, number>> = {};
  for (const name of Object.keys(fields) as (keyof VariableFields)[]) {
    const at = haystack.indexOf(fields[name]);
    if (at === -1 || haystack.lastIndexOf(fields[name]) !== at) return null;
    offsets[name] = at;
  }
  return { bytes: bytes.slice(), offsets: offsets as Template["offsets"] };
}

/** The TBSCertificate, encoded whole by asn1js. */
function encodeTbs(
  signer: Signer,
  crlUrl: string,
  device: CertifiedKey,
  fields: VariableFields,
  notBefore: Date,
  notAfter: Date,
): Uint8Array {
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({ idBlock: CONTEXT_0, value: [new asn1js.Integer({ value: 2 })] }),
      new asn1js.Integer({ valueHex: fields.serial }),
      encoded(SIGNATURE_ALGORITHM_DER),
      encoded(signer.issuer),
      new asn1js.Sequence({ value: [time(notBefore), time(notAfter)] }),
      new asn1js.Sequence({
        value: [
          new asn1js.Set({
            value: [
              new asn1js.Sequence({
                // A handle is hex: PrintableString, as x509 writes it.
                value: [
                  new asn1js.ObjectIdentifier({ value: ID_COMMON_NAME }),
                  new asn1js.PrintableString({ value: device.handle }),
                ],
              }),
            ],
          }),
        ],
      }),
      encoded(device.publicKey),
      new asn1js.Constructed({
        idBlock: CONTEXT_3,
        value: [
          new asn1js.Sequence({
            value: [
              ...DEVICE_EXTENSIONS.map(encoded),
              new asn1js.Sequence({
                value: [
                  new asn1js.ObjectIdentifier({ value: asn.id_ce_subjectKeyIdentifier }),
                  new asn1js.OctetString({
                    valueHex: new asn1js.OctetString({ valueHex: fields.keyIdentifier }).toBER(),
                  }),
                ],
              }),
              ...sharedExtensions(signer, crlUrl).map(encoded),
            ],
          }),
        ],
      }),
    ],
  });
  return new Uint8Array(tbs.toBER());
}

const CONTEXT_0 = { tagClass: 3, tagNumber: 0 };
const CONTEXT_3 = { tagClass: 3, tagNumber: 3 };

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  return date.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: date })
    : new asn1js.GeneralizedTime({ valueDate: date });
}
