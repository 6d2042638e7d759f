import { TPM_ALG, TPM_ECC_CURVE, TPMA_OBJECT } from "./constants.js";
import type { PublicArea } from "./structures/public.js";

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
    objectAttributes:
      TPMA_OBJECT.fixedTPM |
      TPMA_OBJECT.fixedParent |
      TPMA_OBJECT.sensitiveDataOrigin |
      TPMA_OBJECT.userWithAuth |
      TPMA_OBJECT.noDA |
      (use === "sign" ? TPMA_OBJECT.sign : TPMA_OBJECT.decrypt),
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
