import { createHash, randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import { durationSeconds } from "../types/duration.js";
import type { RegistryStore } from "./store/store.js";

/**
 * Bearer secrets of the registry (docs/spec.md §10.5): enrollment tokens and the operator's token.
 * 32 random bytes in base64url; the registry keeps only their SHA-256 (a token is as strong as a
 * key, so a plain hash is as hard to reverse as the token is to guess).
 */
export interface SecretToken {
  readonly token: string;
  readonly hash: Uint8Array;
}

export function newSecretToken(): SecretToken {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token, "utf8").digest());
}

export const DEFAULT_TOKEN_TTL = "24h";
const MIN_TTL_S = 60;
const MAX_TTL_S = 90 * 86_400;

/** --ttl: a whole number and a unit (s, m, h, d), 1 minute to 90 days; default 24h. Seconds. */
export function tokenTtlSeconds(text: string | undefined): number {
  const seconds = durationSeconds(text ?? DEFAULT_TOKEN_TTL) ?? 0;
  if (seconds < MIN_TTL_S || seconds > MAX_TTL_S) {
    throw new UsageError(`bad --ttl '${text}': a whole number with s, m, h or d, from 1m to 90d (e.g. 24h)`);
  }
  return seconds;
}

/** --label: up to 128 characters without control characters, to tell tokens apart later. */
export function tokenLabel(text: string | undefined): string | null {
  if (text === undefined) return null;
  if (text.length < 1 || text.length > 128 || /[\p{Cc}\p{Zl}\p{Zp}]/u.test(text)) {
    throw new UsageError("bad --label: 1 to 128 characters, no control characters");
  }
  return text;
}

export interface IssuedToken {
  readonly token: string;
  readonly label: string | null;
  readonly expiresAt: string;
}

/** A new single-use enrollment token: only its hash is stored; the token is returned once. */
export async function issueEnrollmentToken(
  store: Pick<RegistryStore, "createToken">,
  options: { readonly ttlSeconds: number; readonly label: string | null; readonly now: Date },
): Promise<IssuedToken> {
  const { token, hash } = newSecretToken();
  const expiresAt = new Date(options.now.getTime() + options.ttlSeconds * 1000).toISOString();
  await store.createToken({ hash, label: options.label, createdAt: options.now.toISOString(), expiresAt });
  return { token, label: options.label, expiresAt };
}
