import { list, sizedBytes, struct, u8Bytes, u16, u32 } from "../marshal/codec.js";

/** TPM2B_DIGEST and its aliases (TPM2B_AUTH, TPM2B_NONCE): at most the largest digest, 64 bytes. */
export const digest2b = sizedBytes("TPM2B_DIGEST", 64);
export const auth2b = sizedBytes("TPM2B_AUTH", 64);
/** TPM2B_NAME: a hash algorithm and digest, or a 4-byte handle. */
export const name2b = sizedBytes("TPM2B_NAME", 2 + 64);
/** TPM2B_DATA: outside information bound into creation data. */
export const data2b = sizedBytes("TPM2B_DATA", 64);
/** TPM2B_MAX_NV_BUFFER: one NV_Read or NV_Write chunk (TPM_PT_NV_BUFFER_MAX bounds it per TPM). */
export const nvBuffer2b = sizedBytes("TPM2B_MAX_NV_BUFFER", 2048);
/** TPM2B_CREATION_DATA, carried opaquely: reid never reads inside it. */
export const creationData2b = sizedBytes("TPM2B_CREATION_DATA");

/** TPMS_PCR_SELECTION and TPML_PCR_SELECTION. */
export const pcrSelectionList = list(
  "TPML_PCR_SELECTION",
  struct("TPMS_PCR_SELECTION", { hash: u16, pcrSelect: u8Bytes("pcrSelect", 32) }),
  16,
);

/** TPMT_TK_HASHCHECK and TPMT_TK_CREATION share this shape. */
export const ticket = struct("TPMT_TK", { tag: u16, hierarchy: u32, digest: digest2b });
