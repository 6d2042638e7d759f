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
 * It is on every enrollment's path, so it is not made through x509's generator (which builds an
 * object model, encodes the signed part twice, parses the result back and signs through
 * WebCrypto's thread pool) but encoded by asn1js in one pass, what is the same in every certificate
 * encoded once, and signed by node:crypto on this thread. The DER is the generator's to the byte
 * (test/registry/device-certificate.test.ts holds it to that).
 */
export function issueDeviceCertificate(
  signer: Signer,
  device: CertifiedKey,
  options: { readonly crlUrl: string; readonly now: Date },
): NewCertificate {
  const notBefore = new Date(Math.floor((options.now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + DEVICE_DAYS * 86_400_000);
  const serial = serialNumber();
  const keyIdentifier = createHash("sha1").update(device.keyBits).digest();
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({ idBlock: CONTEXT_0, value: [new asn1js.Integer({ value: 2 })] }),
      new asn1js.Integer({ valueHex: Buffer.from(serial, "hex") }),
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
                    valueHex: new asn1js.OctetString({ valueHex: keyIdentifier }).toBER(),
                  }),
                ],
              }),
              ...sharedExtensions(signer, options.crlUrl).map(encoded),
            ],
          }),
        ],
      }),
    ],
  });
  const signed = new Uint8Array(tbs.toBER());
  const certificate = new asn1js.Sequence({
    value: [
      encoded(signed),
      encoded(SIGNATURE_ALGORITHM_DER),
      new asn1js.BitString({ valueHex: sign("sha256", signed, signer.signingKey) }),
    ],
  });
  return {
    serial,
    der: new Uint8Array(certificate.toBER()),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

const CONTEXT_0 = { tagClass: 3, tagNumber: 0 };
const CONTEXT_3 = { tagClass: 3, tagNumber: 3 };

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  return date.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: date })
    : new asn1js.GeneralizedTime({ valueDate: date });
}
