import { defineCommand } from "../command.js";
import { TPM_ALG, TPM_CC } from "../constants.js";
import { empty, sizedBytes, struct, tagged, u8, u16 } from "../marshal/codec.js";
import { digest2b } from "../structures/common.js";

/** TPMT_SYM_DEF: a session's parameter-encryption algorithm, or TPM_ALG_NULL. */
export const symDef = tagged("TPMT_SYM_DEF", "algorithm", u16, {
  [TPM_ALG.NULL]: empty,
  [TPM_ALG.AES]: struct("AES", { keyBits: u16, mode: u16 }),
  [TPM_ALG.XOR]: struct("XOR", { hashAlg: u16 }),
});

/** TPM_SE: the kind of session StartAuthSession starts. */
export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/**
 * TPM2_StartAuthSession (Part 3, 11.1): tpmKey decrypts encryptedSalt into the salt, bind names
 * an entity whose authValue joins it (TPM_RH_NULL for either: none). It never carries a session
 * of its own here: it is how reid's session begins.
 */
export const StartAuthSession = defineCommand({
  name: "TPM2_StartAuthSession",
  code: TPM_CC.StartAuthSession,
  handles: [{ name: "tpmKey" }, { name: "bind" }],
  parameters: {
    nonceCaller: digest2b,
    encryptedSalt: sizedBytes("TPM2B_ENCRYPTED_SECRET", 512),
    sessionType: u8,
    symmetric: symDef,
    authHash: u16,
  },
  responseHandles: ["sessionHandle"],
  response: { nonceTPM: digest2b },
  session: false,
});
