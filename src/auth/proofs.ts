import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { AuthError } from "../errors.js";

/**
 * A passkey's answer to a challenge, as the surface that issued the challenge hands it to the
 * owner gate (docs/spec.md §8.3). The surface binds the challenge to one session and one
 * operation; the gate checks the assertion itself against the registered passkey.
 */
export interface PasskeyProof {
  /** The authenticator's assertion, as the browser gave it. */
  readonly response: AuthenticationResponseJSON;
  /** The challenge issued for exactly this operation; absent: it expired or was already spent. */
  readonly challenge?: string;
  /** Where the assertion must have been made (the page's origin); the relying party is its host. */
  readonly origin: string;
}

/** A new passkey: the authenticator's registration, answering a challenge, on an origin. */
export interface PasskeyRegistration {
  readonly response: RegistrationResponseJSON;
  /** The challenge issued for this registration; absent: it expired or was already spent. */
  readonly challenge?: string;
  readonly origin: string;
  /** What the owner calls it ("laptop", "phone"): shown on the page instead of the credential id. */
  readonly name?: string;
}

/** Why an operation's fresh proof is refused before anything is checked (docs/spec.md §8.3). */
const PROOF_REFUSALS = {
  "proof-required": "every operation needs a fresh proof: type the PIN again or use a passkey",
  "challenge-expired": "the passkey challenge expired or was used: try again",
  "challenge-mismatch": "this passkey answer was made for another operation: try again",
} as const;

export type ProofRefusal = keyof typeof PROOF_REFUSALS;

export const PROOF_REFUSAL_REASONS = Object.keys(PROOF_REFUSALS) as ProofRefusal[];

export function proofRefused(reason: ProofRefusal): AuthError {
  return new AuthError(reason, PROOF_REFUSALS[reason]);
}
