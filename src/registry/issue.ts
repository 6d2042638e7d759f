import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { describeOsError } from "../errors.js";
import { CLOCK_SKEW_MS, SIGNING, serialNumber } from "./authority.js";
import { REGISTRY_FILES } from "./directory.js";
import { registryCorrupt, registryFailure } from "./registry-errors.js";
import type { NewCertificate } from "./store.js";

/** Device certificates last 90 days: a device renews with its own key long before. */
const DEVICE_DAYS = 90;
const crypto = webcrypto;

/** The registry's CA as it signs: its certificate and private key, read from the directory. */
export interface Signer {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: webcrypto.CryptoKey;
  /** The same in every certificate it signs: made once, not per certificate (half a millisecond). */
  readonly authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension;
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
    return { certificate, privateKey, publicKey, authorityKeyIdentifier };
  } catch {
    throw registryCorrupt(`${directory}'s CA certificate or key (${REGISTRY_FILES.caKey}) does not read`);
  }
}

/**
 * What every device certificate says alike. x509 encodes an extension when it is made, a tenth of
 * a millisecond each: made once, not per certificate.
 */
const DEVICE_EXTENSIONS: readonly x509.Extension[] = [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
];

/** The one CRL URL a server names, encoded once. */
let distributionPoints: { readonly url: string; readonly extension: x509.Extension } | null = null;
function crlDistributionPoints(url: string): x509.Extension {
  if (distributionPoints?.url !== url) {
    distributionPoints = { url, extension: new x509.CRLDistributionPointsExtension([url]) };
  }
  return distributionPoints.extension;
}

/**
 * A device's certificate (docs/spec.md §10.7): subject CN = handle, a random positive 128-bit
 * serial, from a minute ago for 90 days, CA:FALSE, digitalSignature, clientAuth, key identifiers
 * and where its CRL is; ECDSA with SHA-256 by the registry's CA.
 */
export async function issueDeviceCertificate(
  signer: Signer,
  device: { readonly handle: string; readonly publicKey: Uint8Array },
  options: { readonly crlUrl: string; readonly now: Date },
): Promise<NewCertificate> {
  const notBefore = new Date(Math.floor((options.now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + DEVICE_DAYS * 86_400_000);
  const publicKey = new x509.PublicKey(device.publicKey);
  const serial = serialNumber();
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      subject: [{ CN: [device.handle] }],
      issuer: signer.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: SIGNING,
      extensions: [
        ...DEVICE_EXTENSIONS,
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        signer.authorityKeyIdentifier,
        crlDistributionPoints(options.crlUrl),
      ],
    },
    crypto,
  );
  return {
    serial,
    der: new Uint8Array(certificate.rawData),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}
