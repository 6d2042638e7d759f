/**
 * The few PKCS#11 (v2.40) numbers reid uses, known before the native module loads: templates and
 * flags are built and read without it. test/pkcs11/client.test.ts holds them to pkcs11js's.
 */
export const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  APPLICATION: 0x10,
  VALUE: 0x11,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  SIGN: 0x108,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
  NEVER_EXTRACTABLE: 0x164,
  ALWAYS_SENSITIVE: 0x165,
} as const;

/** Key types (CKA_KEY_TYPE). */
export const CKK = {
  GENERIC_SECRET: 0x10,
  AES: 0x1f,
} as const;

/** Mechanisms. */
export const CKM = {
  SHA256_HMAC: 0x251,
  GENERIC_SECRET_KEY_GEN: 0x350,
  AES_KEY_GEN: 0x1080,
  AES_GCM: 0x1087,
} as const;

/** pkcs11js's tag for a CK_GCM_PARAMS of PKCS#11 v2.40 (with ulIvBits), the form SoftHSM2 2.6 reads. */
export const CK_PARAMS_AES_GCM_v240 = 7;

export const CKO = {
  DATA: 0x0,
  CERTIFICATE: 0x1,
  PUBLIC_KEY: 0x2,
  PRIVATE_KEY: 0x3,
  SECRET_KEY: 0x4,
} as const;

export const CKU_USER = 0x1;

/** Session flags (CK_SESSION_INFO). */
export const CKF_SESSION = {
  RW_SESSION: 0x2,
  SERIAL_SESSION: 0x4,
} as const;

/** Token flags (CK_TOKEN_INFO): the ones that decide whether reid can use the token. */
export const CKF_TOKEN = {
  WRITE_PROTECTED: 0x2,
  LOGIN_REQUIRED: 0x4,
  USER_PIN_INITIALIZED: 0x8,
  TOKEN_INITIALIZED: 0x400,
  USER_PIN_COUNT_LOW: 0x10000,
  USER_PIN_FINAL_TRY: 0x20000,
  USER_PIN_LOCKED: 0x40000,
  USER_PIN_TO_BE_CHANGED: 0x80000,
} as const;

/** How messages name an object class. */
export function className(value: number): string {
  const name = Object.entries(CKO).find(([, v]) => v === value)?.[0];
  return name ? `CKO_${name}` : `class 0x${value.toString(16)}`;
}
