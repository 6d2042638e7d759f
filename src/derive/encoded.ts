import * as asn1js from "asn1js";

/**
 * DER that is already encoded (a signed TBSCertificate, a certificate), placed whole inside a
 * structure asn1js encodes: its bytes are copied once, never parsed into blocks and encoded again.
 * asn1js's own RawData answers its bytes alone but writes nothing into the encoding of the block
 * around it; this one does both.
 */
export class Encoded extends asn1js.RawData {
  constructor(der: Uint8Array) {
    super({ data: der });
  }

  override toBER(sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    const bytes = super.toBER(sizeOnly);
    if (!writer) return bytes;
    writer.write(bytes);
    return new ArrayBuffer(0);
  }
}

/** Encoded DER as an element of an asn1js Sequence, Set or Constructed. */
export function encoded(der: Uint8Array): asn1js.AsnType {
  return new Encoded(der) as unknown as asn1js.AsnType;
}
