import { sizedBytes } from "../marshal/codec.js";

/**
 * TPM2B_PRIVATE: an object's sensitive area as its parent wrapped it (integrity HMAC and
 * encryption under the parent's seed), opaque to everyone but that parent on that TPM. Its buffer
 * is sizeof(_PRIVATE): a digest, an integrity digest and the largest sensitive area; 2 KiB holds
 * it for every algorithm the TPM reference code builds.
 */
export const private2b = sizedBytes("TPM2B_PRIVATE", 2048);

/** TPM2B_SENSITIVE_DATA: what a sealed data object holds (MAX_SYM_DATA, 128 bytes). */
export const sensitiveData2b = sizedBytes("TPM2B_SENSITIVE_DATA", 128);
