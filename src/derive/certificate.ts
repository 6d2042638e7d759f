import "reflect-metadata";
import { createHash } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import type { DerivedKeys } from "./derivation.js";
import { type SigningAlgorithm, signBytes, signingPublicKey } from "./signature.js";
import { SIGNING_ALGORITHMS, signerKeys, signerProvider } from "./x509-signer.js";

export interface CertificateOptions {
  readonly algorithm: SigningAlgorithm;
  readonly days: number;
  readonly now: Date;
}

/**
 * A self-signed X.509 v3 certificate for a derived key: subject CN = serialNumber = handle, serial
 * number = handle, CA:false, digitalSignature only, and the key's identifier.
 *
 * Built from @peculiar/asn1-x509's structures and signed once with node:crypto: the library's
 * generator encodes every part, parses it back and parses the finished certificate again, which
 * costs more than deriving all three keys.
 * Specified in docs/spec.md §4.4.
 */
export async function selfSignedCertificate(keys: DerivedKeys, options: CertificateOptions): Promise<string> {
  const signer = signerKeys(keys, options.algorithm);
  const name = asnName(keys.handle);
  const signatureAlgorithm = new asn.AlgorithmIdentifier({ algorithm: SIGNATURE_OIDS[options.algorithm] });
  const tbs = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: positiveInteger(Buffer.from(keys.handle, "hex")),
    signature: signatureAlgorithm,
    issuer: name,
    subject: name,
    validity: new asn.Validity({
      notBefore: options.now,
      notAfter: new Date(options.now.getTime() + options.days * 86_400_000),
    }),
    subjectPublicKeyInfo: AsnConvert.parse(signer.publicKey.spki, asn.SubjectPublicKeyInfo),
    extensions: new asn.Extensions([
      extension(asn.id_ce_basicConstraints, new asn.BasicConstraints({ cA: false }), true),
      extension(asn.id_ce_keyUsage, new asn.KeyUsage(asn.KeyUsageFlags.digitalSignature), true),
      // RFC 5280 method 1: SHA-1 of the subject public key.
      extension(
        asn.id_ce_subjectKeyIdentifier,
        new asn.SubjectKeyIdentifier(
          createHash("sha1").update(signingPublicKey(keys, options.algorithm)).digest(),
        ),
      ),
    ]),
  });
  const body = Buffer.from(AsnConvert.serialize(tbs));
  const signature = signBytes(options.algorithm, signer.privateKey.key, body, "der");
  const certificate = new asn.Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm,
    signatureValue: new Uint8Array(signature).buffer,
  });
  return x509.PemConverter.encode(AsnConvert.serialize(certificate), "CERTIFICATE");
}

const SIGNATURE_OIDS = { ed25519: "1.3.101.112", p256: "1.2.840.10045.4.3.2" } as const;

function extension(id: string, value: object, critical = false): asn.Extension {
  return new asn.Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** CN = handle, serialNumber = handle, both PrintableString (X.520 asks it of serialNumber). */
function asnName(handle: string): asn.Name {
  const rdn = (type: string) =>
    new asn.RelativeDistinguishedName([
      new asn.AttributeTypeAndValue({ type, value: new asn.AttributeValue({ printableString: handle }) }),
    ]);
  return new asn.Name([rdn("2.5.4.3"), rdn("2.5.4.5")]);
}

/** Big-endian bytes as a DER INTEGER's content: no leading zeros, and a zero byte if the top bit is set. */
function positiveInteger(bytes: Uint8Array): ArrayBuffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const out = new Uint8Array(trimmed.length + ((trimmed[0] ?? 0) & 0x80 ? 1 : 0));
  out.set(trimmed, out.length - trimmed.length);
  return out.buffer;
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

function nameOf(handle: string): x509.JsonName {
  return [{ CN: [handle] }, { "2.5.4.5": [handle] }];
}
