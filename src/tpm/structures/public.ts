import { TPM_ALG } from "../constants.js";
import { empty, sized, sizedBytes, struct, tagged, u16, u32, type ValueOf } from "../marshal/codec.js";
import { digest2b } from "./common.js";

const withHash = struct("hash scheme", { hashAlg: u16 });

/** TPMT_SYM_DEF_OBJECT: the symmetric algorithm of a storage key, or TPM_ALG_NULL. */
export const symDefObject = tagged("TPMT_SYM_DEF_OBJECT", "algorithm", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.AES]: struct("AES", { keyBits: u16, mode: u16 }),
});

export const rsaScheme = tagged("TPMT_RSA_SCHEME", "scheme", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.RSASSA]: withHash,
  [TPM_ALG.RSAPSS]: withHash,
  [TPM_ALG.OAEP]: withHash,
  [TPM_ALG.RSAES]: empty,
});

export const eccScheme = tagged("TPMT_ECC_SCHEME", "scheme", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.ECDSA]: withHash,
  [TPM_ALG.ECDH]: withHash,
  [TPM_ALG.ECSCHNORR]: withHash,
  [TPM_ALG.ECMQV]: withHash,
});

export const kdfScheme = tagged("TPMT_KDF_SCHEME", "scheme", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.KDF1_SP800_56A]: withHash,
  [TPM_ALG.KDF2]: withHash,
  [TPM_ALG.KDF1_SP800_108]: withHash,
});

export const keyedHashScheme = tagged("TPMT_KEYEDHASH_SCHEME", "scheme", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.HMAC]: withHash,
  [TPM_ALG.XOR]: struct("XOR", { hashAlg: u16, kdf: u16 }),
});

const common = { nameAlg: u16, objectAttributes: u32, authPolicy: digest2b } as const;
export const eccPoint = struct("TPMS_ECC_POINT", {
  x: sizedBytes("TPM2B_ECC_PARAMETER", 128),
  y: sizedBytes("TPM2B_ECC_PARAMETER", 128),
});

/** TPM2B_ECC_POINT. */
export const eccPoint2b = sized("TPM2B_ECC_POINT", eccPoint);

/** TPMT_PUBLIC: the type selects both the parameters and the unique field. */
export const publicArea = tagged("TPMT_PUBLIC", "type", u16, {
  [TPM_ALG.RSA]: struct("RSA public", {
    ...common,
    parameters: struct("TPMS_RSA_PARMS", {
      symmetric: symDefObject,
      scheme: rsaScheme,
      keyBits: u16,
      exponent: u32,
    }),
    unique: sizedBytes("TPM2B_PUBLIC_KEY_RSA", 512),
  }),
  [TPM_ALG.ECC]: struct("ECC public", {
    ...common,
    parameters: struct("TPMS_ECC_PARMS", {
      symmetric: symDefObject,
      scheme: eccScheme,
      curveID: u16,
      kdf: kdfScheme,
    }),
    unique: eccPoint,
  }),
  [TPM_ALG.KEYEDHASH]: struct("KEYEDHASH public", {
    ...common,
    parameters: struct("TPMS_KEYEDHASH_PARMS", { scheme: keyedHashScheme }),
    unique: digest2b,
  }),
  [TPM_ALG.SYMCIPHER]: struct("SYMCIPHER public", {
    ...common,
    parameters: struct("TPMS_SYMCIPHER_PARMS", { sym: symDefObject }),
    unique: digest2b,
  }),
});
export type PublicArea = ValueOf<typeof publicArea>;

export const public2b = sized("TPM2B_PUBLIC", publicArea);

/** TPMS_SENSITIVE_CREATE inside its TPM2B: the new object's auth value and optional data. */
export const sensitiveCreate2b = sized(
  "TPM2B_SENSITIVE_CREATE",
  struct("TPMS_SENSITIVE_CREATE", {
    userAuth: digest2b,
    data: sizedBytes("TPM2B_SENSITIVE_DATA", 256),
  }),
);
