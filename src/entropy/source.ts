/**
 * A noise source as SP 800-90B sees it: it emits 8-bit samples and comes with an assessed
 * min-entropy per sample, which sets the cutoffs of the health tests run on everything it emits.
 */
export interface EntropySource {
  /** How `status` names the source: "os", "device:/dev/hwrng". */
  readonly name: string;
  /** Assessed min-entropy per 8-bit sample, in bits (0 < H <= 8). */
  readonly minEntropy: number;
  /** Fills `target` completely with fresh samples, or rejects with an EntropyError. */
  fill(target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * The claim for conditioned sources (the kernel CSPRNG, a driver's hwrng). It is deliberately
 * below their 8 bits: with alpha = 2^-40 it gives RCT 11 and APT 78/512, which catch a stuck or a
 * grossly biased source while a healthy one trips them less than once in 2^70 samples.
 */
export const CONDITIONED_MIN_ENTROPY = 4;
