/** Constants of TPM 2.0 Library Part 2 (Structures) that the client uses, by their spec names. */

export const TPM_ST = {
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  CREATION: 0x8021,
  HASHCHECK: 0x8024,
} as const;

export const TPM_SU = { CLEAR: 0x0000, STATE: 0x0001 } as const;

export const TPM_CC = {
  NV_UndefineSpace: 0x122,
  Clear: 0x126,
  NV_DefineSpace: 0x12a,
  CreatePrimary: 0x131,
  NV_Increment: 0x134,
  NV_Write: 0x137,
  Startup: 0x144,
  Shutdown: 0x145,
  NV_Read: 0x14e,
  Create: 0x153,
  ECDH_ZGen: 0x154,
  Load: 0x157,
  Sign: 0x15d,
  Unseal: 0x15e,
  FlushContext: 0x165,
  NV_ReadPublic: 0x169,
  ReadPublic: 0x173,
  StartAuthSession: 0x176,
  GetCapability: 0x17a,
  GetRandom: 0x17b,
} as const;

/** Permanent handles (TPM_RH) and the password session's handle (TPM_RS_PW). */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  RS_PW: 0x40000009,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

/** The most significant octet of a handle says what kind of entity it names (TPM_HT). */
export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
} as const;

export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

export const TPM_ECC_CURVE = { NIST_P256: 0x0003, NIST_P384: 0x0004 } as const;

export const TPM_CAP = {
  ALGS: 0x0,
  HANDLES: 0x1,
  COMMANDS: 0x2,
  PCRS: 0x5,
  TPM_PROPERTIES: 0x6,
  ECC_CURVES: 0x8,
} as const;

/** Property tags for TPM_CAP_TPM_PROPERTIES: PT_FIXED (0x100...) and PT_VAR (0x200...). */
export const TPM_PT = {
  FAMILY_INDICATOR: 0x100,
  LEVEL: 0x101,
  REVISION: 0x102,
  DAY_OF_YEAR: 0x103,
  YEAR: 0x104,
  MANUFACTURER: 0x105,
  VENDOR_STRING_1: 0x106,
  VENDOR_STRING_2: 0x107,
  VENDOR_STRING_3: 0x108,
  VENDOR_STRING_4: 0x109,
  VENDOR_TPM_TYPE: 0x10a,
  FIRMWARE_VERSION_1: 0x10b,
  FIRMWARE_VERSION_2: 0x10c,
  INPUT_BUFFER: 0x10d,
  NV_INDEX_MAX: 0x117,
  MAX_COMMAND_SIZE: 0x11e,
  MAX_RESPONSE_SIZE: 0x11f,
  MAX_DIGEST: 0x120,
  NV_BUFFER_MAX: 0x12c,
  PERMANENT: 0x200,
  STARTUP_CLEAR: 0x201,
  HR_NV_INDEX: 0x202,
  NV_COUNTERS_AVAIL: 0x20b,
  LOCKOUT_COUNTER: 0x20e,
  MAX_AUTH_FAIL: 0x20f,
  NV_WRITE_RECOVERY: 0x212,
} as const;

/** TPMA_PERMANENT bits. */
export const TPMA_PERMANENT = {
  ownerAuthSet: 1 << 0,
  endorsementAuthSet: 1 << 1,
  lockoutAuthSet: 1 << 2,
  disableClear: 1 << 8,
  inLockout: 1 << 9,
} as const;

/** TPMA_NV bits (an index's type, TPM_NT, sits in bits 4..7; 0 is an ordinary index). */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  POLICYWRITE: 1 << 3,
  TPM_NT_MASK: 0xf << 4,
  /** TPM_NT_COUNTER in the type field: a 64-bit counter that only NV_Increment changes. */
  TPM_NT_COUNTER: 0x1 << 4,
  POLICY_DELETE: 1 << 10,
  WRITELOCKED: 1 << 11,
  WRITEALL: 1 << 12,
  WRITEDEFINE: 1 << 13,
  WRITE_STCLEAR: 1 << 14,
  GLOBALLOCK: 1 << 15,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  ORDERLY: 1 << 26,
  CLEAR_STCLEAR: 1 << 27,
  READLOCKED: 1 << 28,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
  READ_STCLEAR: 2 ** 31,
} as const;

/** TPMA_OBJECT bits. */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;

/** TPMA_SESSION bits. */
export const TPMA_SESSION = { continueSession: 0x01, decrypt: 0x20, encrypt: 0x40 } as const;

/** Digest sizes of the hash algorithms the client knows. */
export const DIGEST_SIZE: Readonly<Record<number, number>> = {
  [TPM_ALG.SHA1]: 20,
  [TPM_ALG.SHA256]: 32,
  [TPM_ALG.SHA384]: 48,
  [TPM_ALG.SHA512]: 64,
};
