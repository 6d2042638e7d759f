import { CONDITIONED_MIN_ENTROPY, type EntropySource } from "../../entropy/source.js";
import { EntropyError, ReidError } from "../../errors.js";
import type { Pkcs11Session } from "../../pkcs11/session.js";

/**
 * The token's generator (C_GenerateRandom) as a noise source. Tokens condition their output (a
 * DRBG over their own noise), so it gets the conditioned claim, and the TRNG module health-tests
 * it like any source. It draws on the backend's session, which it does not close; it lives with
 * the backend, as storage takes only the EntropySource interface from entropy/.
 */
export class Pkcs11Source implements EntropySource {
  readonly name = "pkcs11";
  readonly minEntropy = CONDITIONED_MIN_ENTROPY;

  constructor(private readonly session: Pick<Pkcs11Session, "generateRandom">) {}

  async fill(target: Uint8Array): Promise<void> {
    try {
      this.session.generateRandom(target);
    } catch (error) {
      target.fill(0);
      // The token is the noise source here: its failures are entropy failures (exit 5).
      const why = error instanceof ReidError || error instanceof RangeError ? error.message : String(error);
      throw new EntropyError(`entropy source ${this.name}: ${why}`);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
