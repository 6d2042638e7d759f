import "reflect-metadata";
import { webcrypto } from "node:crypto";
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
      await x509.SubjectKeyIdentifierExtension.create(pair.publicKey as never),
    ],
  });
  return certificate.toString("pem");
}

/** A PKCS#10 request for a derived key; the subject defaults to the certificate's. */
export async function certificationRequest(
  keys: DerivedKeys,
  options: { readonly algorithm: SigningAlgorithm; readonly subject?: string | undefined },
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

/** Checks a distinguished name the way the request would use it; throws on a malformed one. */
export function parseDistinguishedName(text: string): string {
  const name = new x509.Name(text);
  if (name.toJSON().length === 0) throw new Error("the name is empty");
  return name.toString();
}

function nameOf(handle: string): x509.JsonName {
  return [{ CN: [handle] }, { "2.5.4.5": [handle] }];
}

/** The derived key pair inside WebCrypto, the private half non-extractable; the DER copy is zeroed. */
async function importPair(keys: DerivedKeys, algorithm: SigningAlgorithm): Promise<KeyPair> {
  const secret = algorithm === "ed25519" ? keys.ed25519.seed : keys.p256.scalar;
  const der = Buffer.concat([Buffer.from(PKCS8_PREFIX[algorithm], "hex"), secret]);
  const publicKey = algorithm === "ed25519" ? keys.ed25519.publicKey : keys.p256.publicKey;
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
