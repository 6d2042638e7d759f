import { AuthError, type ReidError, StateError, StorageError, UnreachableError } from "../errors.js";

/** The registry's refusals (docs/spec.md §3.4, §10). Messages name handles, never a token. */

/** One answer for unknown, spent and expired tokens: a guesser learns nothing from it. */
export function tokenRefused(): ReidError {
  return new AuthError("token-refused", "the enrollment token is unknown, already used or expired");
}

export function unknownDevice(handle: string): ReidError {
  return new StateError("unknown-device", `no device ${handle} in the registry`);
}

export function deviceExists(handle: string): ReidError {
  return new StateError("device-exists", `device ${handle} is already in the registry`);
}

export function deviceNotActive(handle: string, status: string): ReidError {
  return new StateError("device-not-active", `device ${handle} is ${status}, not active`);
}

/** A renewal authorised by a certificate that another renewal has replaced meanwhile. */
export function certificateNotCurrent(handle: string, serial: string): ReidError {
  return new StateError(
    "certificate-not-current",
    `certificate ${serial} is no longer device ${handle}'s current one`,
  );
}

export function registryCorrupt(message: string): ReidError {
  return new StorageError(message, "registry-corrupt");
}

export function registryFailure(message: string): ReidError {
  return new StorageError(message, "registry-failure");
}

/** The registry's PostgreSQL out of reach: the other side is down or away, and trying later may do. */
export function databaseUnreachable(message: string): ReidError {
  return new UnreachableError("database-unreachable", message);
}

export function registryBusy(message: string): ReidError {
  return new StorageError(message, "registry-busy");
}

export function registryExists(message: string): ReidError {
  return new StateError("registry-exists", message);
}

export function noRegistry(message: string): ReidError {
  return new StateError("no-registry", message);
}

export function registryPermissions(message: string): ReidError {
  return new StorageError(message, "registry-permissions");
}

/** `--db-read` on a registry kept in SQLite: there is no replica to read (docs/spec.md §10.6). */
export function sqliteNoReplica(message: string): ReidError {
  return new StateError("sqlite-no-replica", message);
}
