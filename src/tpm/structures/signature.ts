import { TPM_ALG } from "../constants.js";
import { empty, sizedBytes, struct, tagged, u16, type ValueOf } from "../marshal/codec.js";

const withHash = struct("signature scheme", { hashAlg: u16 });

/** TPMT_SIG_SCHEME: the scheme Sign should use (TPM_ALG_NULL: the key's own). */
export const sigScheme = tagged("TPMT_SIG_SCHEME", "scheme", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.RSASSA]: withHash,
  [TPM_ALG.RSAPSS]: withHash,
  [TPM_ALG.ECDSA]: withHash,
  [TPM_ALG.ECSCHNORR]: withHash,
  [TPM_ALG.HMAC]: withHash,
});

const rsaSignature = struct("TPMS_SIGNATURE_RSA", {
  hash: u16,
  sig: sizedBytes("TPM2B_PUBLIC_KEY_RSA", 512),
});
const eccSignature = struct("TPMS_SIGNATURE_ECC", {
  hash: u16,
  signatureR: sizedBytes("TPM2B_ECC_PARAMETER", 128),
  signatureS: sizedBytes("TPM2B_ECC_PARAMETER", 128),
});

/** TPMT_SIGNATURE. */
export const signature = tagged("TPMT_SIGNATURE", "sigAlg", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.RSASSA]: rsaSignature,
  [TPM_ALG.RSAPSS]: rsaSignature,
  [TPM_ALG.ECDSA]: eccSignature,
  [TPM_ALG.ECSCHNORR]: eccSignature,
});
export type Signature = ValueOf<typeof signature>;
