import { CONDITIONED_MIN_ENTROPY, type EntropySource } from "../../entropy/source.js";
import { EntropyError, ReidError } from "../../errors.js";
import { GetRandom } from "../../tpm/commands/random.js";
import { TpmIntegrityError } from "../../tpm/errors.js";
import type { Tpm } from "../../tpm/tpm.js";

/** One GetRandom asks for this much: every TPM answers at least a SHA-256 digest's worth. */
const REQUEST = 32;

/**
 * The TPM's RNG (TPM2_GetRandom) as a noise source, on the store's own connection. The TPM
 * conditions its output (a DRBG seeded from its own noise), so it gets the conditioned claim, and
 * the TRNG module health-tests it like any source. `tpm+os` mixes it with the OS generator
 * (entropy/os-mixed-source.ts). The source does not close the connection: the backend does.
 */
export class TpmRandomSource implements EntropySource {
  readonly name = "tpm";
  readonly minEntropy = CONDITIONED_MIN_ENTROPY;

  constructor(private readonly tpm: Tpm) {}

  async fill(target: Uint8Array): Promise<void> {
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
        target.set(randomBytes.subarray(0, want), filled);
        randomBytes.fill(0);
        filled += want;
      }
    } catch (error) {
      // A tampered answer is the bus's matter, not the noise source's: exit 6 tpm-integrity.
      if (error instanceof EntropyError || error instanceof TpmIntegrityError) throw error;
      // The TPM is the noise source here: its failures are entropy failures (exit 5), not storage ones.
      const why = error instanceof ReidError ? error.message : String(error);
      throw new EntropyError(`entropy source ${this.name}: ${why}`);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
