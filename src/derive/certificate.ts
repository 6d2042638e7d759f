import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { DerivedKeys } from "./derivation.js";
import type { SigningAlgorithm } from "./signature.js";

// The library names DOM types (Crypto, CryptoKey) that Node's webcrypto implements.
x509.cryptoProvider.set(webcrypto as never);

type KeyPair = { readonly privateKey: webcrypto.CryptoKey; readonly publicKey: webcrypto.CryptoKey };

const PKCS8_PREFIX = {
  // PrivateKeyInfo { v0, id-Ed25519, OCTET STRING { OCTET STRING seed } } (RFC 8410)
  ed25519: "302e020100300506032b657004220420",
  // PrivateKeyInfo { v0, id-ecPublicKey + prime256v1, ECPrivateKey { v1, d } } (RFC 5915)
  p256: "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420",
} as const;

const ALGORITHMS = {
  ed25519: { key: { name: "Ed25519" }, signing: { name: "Ed25519" } },
  p256: {
    key: { name: "ECDSA", namedCurve: "P-256" },
    signing: { name: "ECDSA", hash: "SHA-256" },
  },
} as const;

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
  const pair = await importPair(keys, options.algorithm);
  const name = nameOf(keys.handle);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    // A leading zero byte keeps the DER INTEGER positive whatever the handle's first bit.
    serialNumber: `00${keys.handle}`,
    name,
    notBefore: options.now,
    notAfter: new Date(options.now.getTime() + options.days * 86_400_000),
    signingAlgorithm: ALGORITHMS[options.algorithm].signing,
    keys: pair as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // RFC 5280 method 1, computed here: the library's own way exports the key again (~1.5 ms).
      new x509.SubjectKeyIdentifierExtension(
        createHash("sha1").update(publicKeyOf(keys, options.algorithm)).digest("hex"),
      ),
    ],
  });
  return certificate.toString("pem");
}

/** A PKCS#10 request for a derived key; the subject defaults to the certificate's. */
export async function certificationRequest(
  keys: DerivedKeys,
  options: { readonly algorithm: SigningAlgorithm; readonly subject?: x509.Name | undefined },
): Promise<string> {
  const pair = await importPair(keys, options.algorithm);
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subject ?? nameOf(keys.handle),
    keys: pair as never,
    signingAlgorithm: ALGORITHMS[options.algorithm].signing,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
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

/** The derived key pair inside WebCrypto, the private half non-extractable; the DER copy is zeroed. */
async function importPair(keys: DerivedKeys, algorithm: SigningAlgorithm): Promise<KeyPair> {
  const secret = algorithm === "ed25519" ? keys.ed25519.seed : keys.p256.scalar;
  const der = Buffer.concat([Buffer.from(PKCS8_PREFIX[algorithm], "hex"), secret]);
  const publicKey = publicKeyOf(keys, algorithm);
  const { key } = ALGORITHMS[algorithm];
  try {
    return {
      privateKey: await webcrypto.subtle.importKey("pkcs8", der, key, false, ["sign"]),
      publicKey: await webcrypto.subtle.importKey("raw", publicKey, key, true, ["verify"]),
    };
  } finally {
    der.fill(0);
  }
}
