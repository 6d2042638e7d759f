import { type SigningAlgorithm, signatureAlgorithms } from "../derive/signature.js";
import type { ElementApi } from "./api.js";

/** What a check of a signature found, and which algorithms its form allowed. */
export interface SignatureCheck {
  readonly valid: boolean;
  readonly handle: string;
  /** The algorithm it verified under, else the last one tried. */
  readonly algorithm: SigningAlgorithm;
  /** The algorithms tried because the form allowed them (or `given`); empty: neither form. */
  readonly candidates: readonly SigningAlgorithm[];
}

/**
 * Checks `signature` over `message` against the element's derived key, the algorithm told from the
 * signature unless `given`: `reid sign --alg p256` writes DER, Ed25519 signatures are 64 bytes
 * (docs/spec.md §4.4). `reid verify` and the page's verify both check through this one rule.
 */
export async function checkSignature(
  element: Pick<ElementApi, "verify">,
  message: Uint8Array,
  signature: Uint8Array,
  given: SigningAlgorithm | null,
): Promise<SignatureCheck> {
  const candidates = given ? [given] : signatureAlgorithms(signature);
  // A signature of neither form is still checked, so a blank element says so first (exit 3).
  const tried: readonly SigningAlgorithm[] = candidates.length > 0 ? candidates : ["ed25519"];
  let outcome = { valid: false, handle: "", algorithm: tried[0] as SigningAlgorithm };
  for (const algorithm of tried) {
    outcome = { ...(await element.verify(algorithm, message, signature)), algorithm };
    if (outcome.valid) break;
  }
  return { ...outcome, candidates };
}

/** A signature file holds the raw signature, or its hex as `reid sign` prints it. */
export function signatureBytes(content: Uint8Array): Uint8Array {
  const text = Buffer.from(content).toString("latin1").trim();
  return /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, "hex") : content;
}
