/**
 * What both sides of EST (RFC 7030) put on the wire: certs-only PKCS#7 and PKCS#10 in base64
 * bodies (§4: Content-Transfer-Encoding base64), and certificate serials as the store keeps them.
 */
export const PKCS7_CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";
export const PKCS10 = "application/pkcs10";

/** DER as an EST body: base64 in lines of 64 characters. */
export function base64Body(der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString("base64");
  let body = "";
  for (let at = 0; at < base64.length; at += 64) body += `${base64.slice(at, at + 64)}\n`;
  return body;
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

/** ContentInfo's contentType (RFC 5652 §5.1): id-signedData, 1.2.840.113549.1.7.2, as DER. */
const ID_SIGNED_DATA = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02);
/**
 * SignedData's fields before its certificates, as DER: version 1, digestAlgorithms SET {} and
 * encapContentInfo { eContentType id-data (1.2.840.113549.1.7.1) } without content.
 */
const BEFORE_CERTIFICATES = Uint8Array.of(
  0x02,
  0x01,
  0x01,
  0x31,
  0x00,
  0x30,
  0x0b,
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x86,
  0xf7,
  0x0d,
  0x01,
  0x07,
  0x01,
);
/** SignedData's signerInfos after its certificates: SET {}, none. */
const NO_SIGNERS = Uint8Array.of(0x31, 0x00);
const SEQUENCE = 0x30;
/** Context-specific constructed [0]: ContentInfo's content, and SignedData's certificates. */
const TAGGED_0 = 0xa0;

/**
 * A certs-only PKCS#7 (RFC 7030 §4.1.3, RFC 5652 §5: a SignedData without content or signers)
 * around certificates already in DER: each is placed as it is, never parsed and encoded again.
 * The structure around them is fixed, so it is written directly: one buffer, its headers' lengths
 * computed from the certificates' (every EST answer holds one; an encoder's objects per answer
 * were a measurable share of a registry node's time).
 */
export function certsOnlyDer(certificates: readonly Uint8Array[]): Uint8Array {
  let certificatesLength = 0;
  for (const certificate of certificates) certificatesLength += certificate.length;
  const certificatesHeader = derHeader(TAGGED_0, certificatesLength);
  const signedDataLength =
    BEFORE_CERTIFICATES.length + certificatesHeader.length + certificatesLength + NO_SIGNERS.length;
  const signedDataHeader = derHeader(SEQUENCE, signedDataLength);
  const contentLength = signedDataHeader.length + signedDataLength;
  const contentHeader = derHeader(TAGGED_0, contentLength);
  const contentInfoLength = ID_SIGNED_DATA.length + contentHeader.length + contentLength;
  const contentInfoHeader = derHeader(SEQUENCE, contentInfoLength);
  const out = new Uint8Array(contentInfoHeader.length + contentInfoLength);
  let at = 0;
  const put = (bytes: Uint8Array) => {
    out.set(bytes, at);
    at += bytes.length;
  };
  for (const part of [
    contentInfoHeader,
    ID_SIGNED_DATA,
    contentHeader,
    signedDataHeader,
    BEFORE_CERTIFICATES,
  ]) {
    put(part);
  }
  put(certificatesHeader);
  for (const certificate of certificates) put(certificate);
  put(NO_SIGNERS);
  return out;
}

/** A DER tag and definite length (X.690 §8.1.3): the short form below 128, else the long form's fewest bytes. */
function derHeader(tag: number, length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(tag, length);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
  return Uint8Array.of(tag, 0x80 | lengthBytes.length, ...lengthBytes);
}
