import { TPM_ALG, TPM_ECC_CURVE, TPMA_OBJECT } from "./constants.js";
import type { PublicArea } from "./structures/public.js";

/** Fixed to the TPM, its private part made inside it, password-authorized, outside DA counting. */
const MADE_INSIDE =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.noDA;

/**
 * A primary ECC P-256 key made inside the TPM (fixed to it, password-authorized, outside
 * dictionary-attack counting): an ECDSA/SHA-256 signing key, or a decryption key for ECDH. The
 * `unique` x-coordinate sets which key a hierarchy's seed yields for this template.
 */
export function eccP256Template(
  use: "sign" | "decrypt",
  uniqueX: Uint8Array = new Uint8Array(0),
): PublicArea {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: MADE_INSIDE | (use === "sign" ? TPMA_OBJECT.sign : TPMA_OBJECT.decrypt),
    authPolicy: new Uint8Array(0),
    parameters: {
      symmetric: { algorithm: TPM_ALG.NULL },
      scheme: use === "sign" ? { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 } : { scheme: TPM_ALG.NULL },
      curveID: TPM_ECC_CURVE.NIST_P256,
      kdf: { scheme: TPM_ALG.NULL },
    },
    unique: { x: uniqueX, y: new Uint8Array(uniqueX.length) },
  };
}

/**
 * A primary RSA-2048 decryption key made inside the TPM, for TPMs without ECC: the salt key of
 * a session (OAEP with its nameAlg, SHA-256). Exponent 0 is the default, 65537.
 */
export function rsa2048DecryptTemplate(): PublicArea {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: MADE_INSIDE | TPMA_OBJECT.decrypt,
    authPolicy: new Uint8Array(0),
    parameters: {
      symmetric: { algorithm: TPM_ALG.NULL },
      scheme: { scheme: TPM_ALG.NULL },
      keyBits: 2048,
      exponent: 0,
    },
    unique: new Uint8Array(0),
  };
}

/**
 * The storage root key template of the TCG's provisioning guidance (and tpm2-tools' default
 * primary): a restricted ECC P-256 decryption key with AES-128-CFB for its children. The owner
 * hierarchy's seed gives the same key for it every time, so it need not stay loaded.
 */
export function eccP256StorageTemplate(): PublicArea {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: MADE_INSIDE | TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt,
    authPolicy: new Uint8Array(0),
    parameters: {
      symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
      scheme: { scheme: TPM_ALG.NULL },
      curveID: TPM_ECC_CURVE.NIST_P256,
      kdf: { scheme: TPM_ALG.NULL },
    },
    unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
  };
}
