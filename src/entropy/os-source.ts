import { randomFillSync } from "node:crypto";
import { CONDITIONED_MIN_ENTROPY, type EntropySource } from "./source.js";

/** The operating system's generator (getrandom(2) through OpenSSL), the embedded default. */
export class OsSource implements EntropySource {
  readonly name = "os";
  readonly minEntropy = CONDITIONED_MIN_ENTROPY;

  fill(target: Uint8Array): Promise<void> {
    randomFillSync(target);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
