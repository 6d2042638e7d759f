import { rmSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import type { LogRecord } from "../http/log-witness.js";
import { readOptionalFile, replaceFile, syncDirectory } from "../storage/durable-file.js";
import { readOutbox } from "./outbox.js";

/**
 * What the element keeps of its enrollment, in its store directory: the registry it enrolled
 * with, the CA it pinned there and the certificate it was issued (docs/spec.md §10.8). Plain JSON,
 * so `reid status` reads it without loading X.509 code. Nothing in it is secret, but it lives
 * 0600 with the rest of the store.
 */
export interface EnrollmentRecord {
  readonly format: "reid-enrollment";
  readonly version: 1;
  /** The registry's origin, https://HOST:PORT. */
  readonly registry: string;
  /** `sha256:` and the hex SHA-256 of the pinned CA certificate's DER. */
  readonly caFingerprint: string;
  /** The identity that was enrolled: a reset makes the enrollment stale. */
  readonly handle: string;
  readonly generation: number;
  readonly algorithm: "ed25519" | "p256";
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly enrolledAt: string;
  /** When `reid renew` last replaced the certificate (absent: never renewed). */
  readonly renewedAt?: string;
  readonly caCertificate: string;
  readonly certificate: string;
  /** Whether a reset is a succession (absent: yes) or leaves no link (`config registry-continuity off`). */
  readonly continuity?: boolean;
  /**
   * The registry's identity log, when the enrollment verifies it (`reid enroll --verify`): its
   * verifier key and the newest checkpoint verified; each later answer must extend it (§10.12).
   */
  readonly log?: LogRecord;
}

export const ENROLLMENT_FILE = "enrollment.json";

export function writeEnrollment(storeDirectory: string, record: EnrollmentRecord): void {
  try {
    replaceFile(join(storeDirectory, ENROLLMENT_FILE), `${JSON.stringify(record)}\n`);
  } catch (error) {
    throw new StorageError(`cannot write the enrollment in ${storeDirectory}: ${describeOsError(error)}`);
  }
}

/** The enrollment, or null when the element never enrolled; a file that is not one is refused. */
export function readEnrollment(storeDirectory: string): EnrollmentRecord | null {
  const path = join(storeDirectory, ENROLLMENT_FILE);
  const text = readOptionalFile(path);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!isEnrollment(value)) throw new StorageError(`${path} is not a reid enrollment`, "store-corrupt");
  return value;
}

/** What `reid status` says of the enrollment: where, which certificate, and whether it still holds. */
export interface EnrollmentState {
  readonly registry: string;
  readonly handle: string;
  readonly generation: number;
  readonly serial: string;
  readonly notAfter: string;
  /**
   * stale: a reset or erase since; the certificate names an identity the element no longer has.
   * succession-pending: a succession to the element's current identity waits to be delivered.
   */
  readonly state: "current" | "stale" | "expired" | "succession-pending";
  /** The size of the newest checkpoint of the registry's log verified, null when the enrollment does not verify it. */
  readonly logSize: number | null;
}

export function enrollmentState(
  storeDirectory: string,
  handle: string | null,
  now: Date,
): EnrollmentState | null {
  const record = readEnrollment(storeDirectory);
  if (record === null) return null;
  const pending = () =>
    readOutbox(storeDirectory).some(
      (entry) => entry.kind === "succession" && entry.state === "pending" && entry.handle === handle,
    );
  const state =
    record.handle !== handle
      ? pending()
        ? "succession-pending"
        : "stale"
      : record.notAfter <= now.toISOString()
        ? "expired"
        : "current";
  const { registry, generation, serial, notAfter } = record;
  const logSize = record.log ? checkpointSize(record.log) : null;
  return { registry, handle: record.handle, generation, serial, notAfter, state, logSize };
}

const TEXT_FIELDS = [
  "registry",
  "caFingerprint",
  "handle",
  "serial",
  "notBefore",
  "notAfter",
  "enrolledAt",
  "caCertificate",
  "certificate",
] as const;

function isEnrollment(value: unknown): value is EnrollmentRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record.format === "reid-enrollment" &&
    record.version === 1 &&
    Number.isSafeInteger(record.generation) &&
    (record.algorithm === "ed25519" || record.algorithm === "p256") &&
    (record.continuity === undefined || typeof record.continuity === "boolean") &&
    (record.renewedAt === undefined || typeof record.renewedAt === "string") &&
    (record.log === undefined || isLogRecord(record.log)) &&
    TEXT_FIELDS.every((field) => typeof record[field] === "string")
  );
}

/** The size of the log's checkpoint kept (its second line, §10.12; it was verified before it was kept). */
export function checkpointSize(log: LogRecord): number {
  return Number(log.checkpoint.split("\n")[1]);
}

function isLogRecord(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const { key, checkpoint, ...rest } = value as Record<string, unknown>;
  return (
    typeof key === "string" &&
    typeof checkpoint === "string" &&
    /^(0|[1-9][0-9]{0,15})$/.test(checkpoint.split("\n")[1] ?? "") &&
    Object.keys(rest).length === 0
  );
}

/** Removes the enrollment (a retirement was delivered): durable, and nothing when it is gone already. */
export function removeEnrollment(storeDirectory: string): void {
  try {
    rmSync(join(storeDirectory, ENROLLMENT_FILE), { force: true });
    syncDirectory(storeDirectory);
  } catch (error) {
    throw new StorageError(`cannot remove the enrollment in ${storeDirectory}: ${describeOsError(error)}`);
  }
}
