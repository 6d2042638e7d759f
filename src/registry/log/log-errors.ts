import { AuthError, type ReidError, StorageError } from "../../errors.js";

/**
 * The identity log gave something that does not check: a bad signature, a proof that fails, a
 * history that forks or was rewritten. Never trusted, always reported (docs/spec.md §10.12).
 */
export function logUntrusted(message: string): ReidError {
  return new AuthError("log-untrusted", message);
}

/** The auditor's `--state` directory cannot be used: open to others, unreadable, or not what it wrote. */
export function auditStateError(message: string): ReidError {
  return new StorageError(message, "audit-state");
}
