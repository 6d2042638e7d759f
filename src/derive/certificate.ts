import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { DerivedKeys } from "./derivation.js";
import type { SigningAlgorithm } from "./signature.js";
import { SIGNING_ALGORITHMS, signerKeys, signerProvider } from "./x509-signer.js";

export interface CertificateOptions {
  readonly algorithm: SigningAlgorithm;
  readonly days: number;
  readonly now: Date;
}

/**
 * A self-signed X.509 v3 certificate for a derived key: subject CN = serialNumber = handle, serial
 * number = handle, CA:false, digitalSignature only, and the key's identifier.
 */
export async function selfSignedCertificate(keys: DerivedKeys, options: CertificateOptions): Promise<string> {
  const signer = signerKeys(keys, options.algorithm);
  const name = nameOf(keys.handle);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      // A leading zero byte keeps the DER INTEGER positive whatever the handle's first bit.
      serialNumber: `00${keys.handle}`,
      subject: name,
      issuer: name,
      notBefore: options.now,
      notAfter: new Date(options.now.getTime() + options.days * 86_400_000),
      signingAlgorithm: SIGNING_ALGORITHMS[options.algorithm],
      publicKey: signer.publicKey.spki,
      signingKey: signer.privateKey as never,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // RFC 5280 method 1, computed here: the library's own way exports the key again.
        new x509.SubjectKeyIdentifierExtension(
          createHash("sha1").update(publicKeyOf(keys, options.algorithm)).digest("hex"),
        ),
      ],
    },
    signerProvider as never,
  );
  return certificate.toString("pem");
}

/** A PKCS#10 request for a derived key; the subject defaults to the certificate's. */
export async function certificationRequest(
  keys: DerivedKeys,
  options: { readonly algorithm: SigningAlgorithm; readonly subject?: x509.Name | undefined },
): Promise<string> {
  const request = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: options.subject ?? nameOf(keys.handle),
      keys: signerKeys(keys, options.algorithm) as never,
      signingAlgorithm: SIGNING_ALGORITHMS[options.algorithm],
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    signerProvider as never,
  );
  return request.toString("pem");
}

/** Attribute types a subject may name (RFC 4514 and the usual extras), matched without case. */
const ATTRIBUTE_TYPES: Readonly<Record<string, string>> = {
  cn: "CN",
  l: "L",
  st: "ST",
  o: "O",
  ou: "OU",
  c: "C",
  dc: "DC",
  e: "E",
  emailaddress: "E",
  street: "STREET",
  uid: "UID",
  serialnumber: "serialNumber",
};
const EXTRA_NAMES = { STREET: "2.5.4.9", UID: "0.9.2342.19200300.100.1.1", serialNumber: "2.5.4.5" };

/**
 * Checks a distinguished name such as "CN=sensor-7, O=Acme" and returns it in the form the
 * request uses: types are matched without case, every value is non-empty, a country has two
 * letters. Throws on anything else.
 */
export function parseDistinguishedName(text: string): x509.Name {
  // Split at commas and plus signs that are not escaped with a backslash.
  const parts = text.split(/(?<!\\)[,+]/);
  const separators = text.match(/(?<!\\)[,+]/g) ?? [];
  const normalized = parts.map((part) => {
    const match = /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=\s*(.*?)\s*$/.exec(part);
    if (!match || (match[2] ?? "") === "") throw new Error(`'${part.trim()}' is not TYPE=VALUE`);
    const name = match[1] as string;
    const type = /^\d/.test(name) ? name : ATTRIBUTE_TYPES[name.toLowerCase()];
    if (!type) throw new Error(`unknown attribute type '${name}'`);
    if (type === "C" && !/^[A-Za-z]{2}$/.test(match[2] as string))
      throw new Error("a country is two letters");
    return `${type}=${match[2]}`;
  });
  return new x509.Name(
    normalized.map((part, i) => (i === 0 ? part : `${separators[i - 1]}${part}`)).join(""),
    EXTRA_NAMES,
  );
}

function publicKeyOf(keys: DerivedKeys, algorithm: SigningAlgorithm): Uint8Array {
  return algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey;
}

function nameOf(handle: string): x509.JsonName {
  return [{ CN: [handle] }, { "2.5.4.5": [handle] }];
}
