import { randomFillSync } from "node:crypto";
import { extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CONDITIONED_MIN_ENTROPY, type EntropySource } from "./source.js";

/** Bytes per mixing step: one HKDF-Extract output (SHA-256). */
const BLOCK = 32;

/**
 * A backend's generator mixed with the OS generator (`tpm+os`, `pkcs11+os`): each 32 bytes are
 * HKDF-Extract(salt = 32 OS bytes, IKM = 32 bytes of the generator). As strong as the better of the
 * two, so neither a weak chip nor a weak kernel alone decides the identifier; the TRNG module
 * health-tests the result like any source. Closing it closes the generator.
 */
export class OsMixedSource implements EntropySource {
  readonly name: string;
  readonly minEntropy = CONDITIONED_MIN_ENTROPY;

  constructor(private readonly inner: EntropySource) {
    this.name = `${inner.name}+os`;
  }

  async fill(target: Uint8Array): Promise<void> {
    const blocks = Math.ceil(target.length / BLOCK);
    const drawn = new Uint8Array(blocks * BLOCK);
    const salt = new Uint8Array(BLOCK);
    try {
      await this.inner.fill(drawn);
      for (let block = 0; block < blocks; block++) {
        randomFillSync(salt);
        const mixed = extract(sha256, drawn.subarray(block * BLOCK, (block + 1) * BLOCK), salt);
        const at = block * BLOCK;
        target.set(mixed.subarray(0, Math.min(BLOCK, target.length - at)), at);
        mixed.fill(0);
      }
    } finally {
      drawn.fill(0);
      salt.fill(0);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
