import * as asn1js from "asn1js";
import { encoded } from "../derive/encoded.js";

/**
 * What both sides of EST (RFC 7030) put on the wire: certs-only PKCS#7 and PKCS#10 in base64
 * bodies (§4: Content-Transfer-Encoding base64), and certificate serials as the store keeps them.
 */
export const PKCS7_CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";
export const PKCS10 = "application/pkcs10";

/** DER as an EST body: base64 in lines of 64 characters. */
export function base64Body(der: Uint8Array): string {
  return Buffer.from(der)
    .toString("base64")
    .replace(/.{1,64}/g, "$&\n");
}

/** An EST body back to DER; line breaks and blanks are allowed. Null: it is not base64. */
export function derOfBody(text: string): Uint8Array | null {
  const compact = text.replace(/[\r\n\t ]/g, "");
  if (compact === "" || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return null;
  return new Uint8Array(Buffer.from(compact, "base64"));
}

/** A certificate's serial as the registry stores it: lowercase hex without leading zeros. */
export function serialHex(serialNumber: string): string {
  return serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
}

const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const ID_DATA = "1.2.840.113549.1.7.1";

/**
 * A certs-only PKCS#7 (RFC 7030 §4.1.3, RFC 5652 §5: a SignedData without content or signers)
 * around certificates already in DER: each is placed as it is, never parsed and encoded again.
 */
export function certsOnlyDer(certificates: readonly Uint8Array[]): Uint8Array {
  const explicit = (value: asn1js.AsnType[]) =>
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value });
  const signedData = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Set({ value: [] }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ID_DATA })] }),
      explicit(certificates.map(encoded)),
      new asn1js.Set({ value: [] }),
    ],
  });
  const contentInfo = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: ID_SIGNED_DATA }), explicit([signedData])],
  });
  return new Uint8Array(contentInfo.toBER());
}
