// Loaded only when a passkey is registered or used: @simplewebauthn/server is never on the path of
// `reid status`.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import { AuthError } from "../errors.js";

/** One registered passkey: its public key and the authenticator's signature counter. */
export interface StoredPasskey {
  /** The credential id, base64url (what the authenticator names it by). */
  readonly id: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The highest signature counter seen; a lower or equal one later means a cloned authenticator. */
  readonly counter: number;
  readonly transports: readonly string[];
  readonly created: string;
  readonly lastUsed: string | null;
  /** The owner's name for it (absent in files written before names). */
  readonly name?: string;
}

/** What the answer must have been made for: the challenge issued, on the origin that issued it. */
export interface Expected {
  readonly challenge: string;
  readonly origin: string;
}

/** A registered passkey, as the authenticator's registration gives it (no dates yet). */
export type NewPasskey = Pick<StoredPasskey, "id" | "publicKey" | "counter" | "transports">;

/**
 * Checks a registration with user verification required (attestation "none": any authenticator the
 * owner chooses); returns the credential to store.
 */
export async function verifyRegistration(
  response: RegistrationResponseJSON,
  expected: Expected,
): Promise<NewPasskey> {
  const verified = await refusing(() =>
    verifyRegistrationResponse({
      response,
      expectedChallenge: expected.challenge,
      expectedOrigin: expected.origin,
      expectedRPID: relyingParty(expected.origin),
      requireUserVerification: true,
    }),
  );
  if (!verified.verified || !verified.registrationInfo.userVerified) throw refused("no user verification");
  const { credential } = verified.registrationInfo;
  return {
    id: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString("base64url"),
    counter: credential.counter,
    transports: credential.transports ?? [],
  };
}

/**
 * Checks an assertion of `stored` with user verification required; returns the authenticator's new
 * signature counter. A counter that does not go up (when either is not zero) is refused: a cloned
 * authenticator.
 */
export async function verifyAssertion(
  stored: StoredPasskey,
  response: AuthenticationResponseJSON,
  expected: Expected,
): Promise<number> {
  const verified = await refusing(() =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: expected.challenge,
      expectedOrigin: expected.origin,
      expectedRPID: relyingParty(expected.origin),
      credential: {
        id: stored.id,
        publicKey: Buffer.from(stored.publicKey, "base64url"),
        counter: stored.counter,
        transports: [...stored.transports],
      },
      requireUserVerification: true,
    }),
  );
  if (!verified.verified || !verified.authenticationInfo.userVerified) {
    throw refused("the user was not verified");
  }
  return verified.authenticationInfo.newCounter;
}

/** WebAuthn's relying party is the origin's host name (the page's: localhost, never an address). */
function relyingParty(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    throw refused("the origin is not a URL");
  }
}

/** The library's verdict; anything it throws (a bad signature, a counter gone back…) is a refusal. */
async function refusing<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (error) {
    throw refused(messageOf(error));
  }
}

function refused(why: string): AuthError {
  return new AuthError("passkey-refused", `the passkey was refused: ${why}`);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 200);
}
