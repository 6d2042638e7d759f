import { TPM_ALG } from "./constants.js";
import { TpmTransportError } from "./errors.js";

/** The hash algorithms the client computes with, by node:crypto's names. */
export type TpmHash = "sha1" | "sha256" | "sha384" | "sha512";

const HASHES: Readonly<Record<number, TpmHash>> = {
  [TPM_ALG.SHA1]: "sha1",
  [TPM_ALG.SHA256]: "sha256",
  [TPM_ALG.SHA384]: "sha384",
  [TPM_ALG.SHA512]: "sha512",
};

/** node:crypto's name for a TPM_ALG hash; a hash the client does not know is a malformed answer. */
export function hashOf(alg: number): TpmHash {
  const hash = HASHES[alg];
  if (!hash)
    throw new TpmTransportError(
      `hash algorithm 0x${alg.toString(16)} is not one reid knows`,
      "tpm-malformed",
    );
  return hash;
}
