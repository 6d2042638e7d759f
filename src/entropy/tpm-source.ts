import { randomFillSync } from "node:crypto";
import { extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { EntropyError, ReidError } from "../errors.js";
import { GetRandom } from "../tpm/commands/random.js";
import type { Tpm } from "../tpm/tpm.js";
import { CONDITIONED_MIN_ENTROPY, type EntropySource } from "./source.js";

/** One GetRandom asks for this much: every TPM answers at least a SHA-256 digest's worth. */
const REQUEST = 32;

/**
 * The TPM's RNG (TPM2_GetRandom) as a noise source. The TPM conditions its output (a DRBG seeded
 * from its own noise), so it gets the conditioned claim, and the TRNG module health-tests it like
 * any source. With `mixOs`, each 32 bytes are HKDF-Extract(salt = 32 OS bytes, IKM = 32 TPM
 * bytes): as strong as the better of the two, so neither a weak TPM nor a weak kernel alone
 * decides the identifier.
 *
 * The connection is the element's (shared with the NV store); the source does not close it.
 */
export class TpmSource implements EntropySource {
  readonly name: string;
  readonly minEntropy = CONDITIONED_MIN_ENTROPY;

  constructor(
    private readonly tpm: Tpm,
    private readonly mixOs: boolean,
  ) {
    this.name = mixOs ? "tpm+os" : "tpm";
  }

  async fill(target: Uint8Array): Promise<void> {
    const salt = this.mixOs ? new Uint8Array(REQUEST) : null;
    try {
      for (let filled = 0; filled < target.length; ) {
        const want = Math.min(REQUEST, target.length - filled);
        const { randomBytes } = await this.tpm.run(GetRandom, { bytesRequested: REQUEST });
        if (randomBytes.length < REQUEST) {
          randomBytes.fill(0);
          throw new EntropyError(
            `entropy source ${this.name}: TPM2_GetRandom returned ${randomBytes.length} bytes, not ${REQUEST}`,
          );
        }
        if (salt) {
          randomFillSync(salt);
          const mixed = extract(sha256, randomBytes, salt);
          target.set(mixed.subarray(0, want), filled);
          mixed.fill(0);
        } else {
          target.set(randomBytes.subarray(0, want), filled);
        }
        randomBytes.fill(0);
        filled += want;
      }
    } catch (error) {
      if (error instanceof EntropyError) throw error;
      // The TPM is the noise source here: its failures are entropy failures (exit 5), not storage ones.
      const why = error instanceof ReidError ? error.message : String(error);
      throw new EntropyError(`entropy source ${this.name}: ${why}`);
    } finally {
      salt?.fill(0);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
