import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { SigningAlgorithm } from "../derive/signature.js";
import { UsageError } from "../errors.js";
import type { RequestType } from "./request.js";

/** Checks shared by every surface, so the CLI and the daemon refuse the same input the same way. */

/** The requests a surface may be asked for by name. */
export const REQUEST_TYPES: readonly RequestType[] = ["init", "reset", "erase"];

/** A scheduled request's id as someone gives it, to cancel it: ids are short, a long one is bad input. */
export const MAX_SCHEDULE_ID = 1024;

export function scheduleId(value: string): string {
  if (value.length <= MAX_SCHEDULE_ID) return value;
  throw new UsageError(`'id' must be a string of at most ${MAX_SCHEDULE_ID} characters`);
}

/** --alg for signing: ed25519 (the default) or p256. */
export function signingAlgorithm(value: unknown): SigningAlgorithm {
  if (value === undefined) return "ed25519";
  if (value === "ed25519" || value === "p256") return value;
  throw new UsageError(`bad --alg '${String(value)}': expected ed25519 or p256`);
}

export const MAX_CERTIFICATE_DAYS = 36_500;

/** --days for certificates: whole days from 1 to 100 years; 365 when absent. */
export function certificateDays(value: unknown): number {
  if (value === undefined) return 365;
  const text = String(value);
  const days = Number(text);
  if (!/^\d+$/.test(text) || days < 1 || days > MAX_CERTIFICATE_DAYS) {
    throw new UsageError(`bad --days '${text}': expected whole days from 1 to ${MAX_CERTIFICATE_DAYS}`);
  }
  return days;
}

/**
 * --at: an ISO-8601 date and time with a zone (Z or an offset), in the future. A time without a
 * zone would mean a different instant on another machine, so it is refused.
 */
export function scheduleTime(value: unknown, now: Date): Date {
  const text = String(value);
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
  const at = new Date(text);
  if (typeof value !== "string" || !iso.test(text) || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `bad --at '${text.slice(0, 64)}': expected an ISO-8601 time with a zone, e.g. 2026-12-01T09:00:00Z`,
    );
  }
  if (at.getTime() <= now.getTime()) throw new UsageError(`bad --at '${text}': that time is in the past`);
  return at;
}

/** An id as it travels in a path or a proof (a passkey's, a schedule entry's): base64url. */
export const URL_SAFE_ID = /^[A-Za-z0-9_-]{1,1024}$/;

/**
 * A WebAuthn assertion as a browser sends it: only its shape (an id and a response object) is
 * checked here; the owner gate verifies the rest.
 */
export function passkeyAssertion(value: unknown): AuthenticationResponseJSON {
  if (!isWebAuthnAnswer(value) || !URL_SAFE_ID.test(value.id)) {
    throw new UsageError("'passkey' must be a WebAuthn assertion (from the browser)");
  }
  return value as AuthenticationResponseJSON;
}

/** A WebAuthn registration as a browser sends it: its shape only, as for an assertion. */
export function passkeyRegistration(value: unknown): RegistrationResponseJSON {
  if (!isWebAuthnAnswer(value)) {
    throw new UsageError("'response' must be a WebAuthn registration (from the browser)");
  }
  return value as RegistrationResponseJSON;
}

function isWebAuthnAnswer(value: unknown): value is { id: string; response: object } {
  const answer = value as { id?: unknown; response?: unknown } | null;
  return (
    typeof answer === "object" &&
    answer !== null &&
    typeof answer.id === "string" &&
    typeof answer.response === "object" &&
    answer.response !== null
  );
}

/** What the owner calls a passkey: 1 to 64 characters, none a control character (it is shown as text). */
export function passkeyName(value: unknown): string {
  const name = typeof value === "string" ? value.trim() : "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (name !== "" && [...name].length <= 64 && !/[\u0000-\u001f\u007f-\u009f]/.test(name)) return name;
  throw new UsageError("a passkey's name has 1 to 64 characters and no control characters");
}
