/**
 * What the registry (the patent's server 103) keeps, behind one small interface so a second
 * database is a second driver, not a rewrite: the devices it follows, the certificates it issued
 * them, single-use enrollment tokens, operator credentials and the ordered log of events.
 * Specified in docs/spec.md §10.3 and §10.4.
 *
 * Every change to a device is one transaction together with its event: a reader sees both or
 * neither. Times are ISO-8601 UTC strings as Date.toISOString() writes them, given by the caller
 * (the registry's clock), so they compare as text in any database.
 */

/**
 * `listed`: imported without a certificate (docs/spec.md §10.6), certified when it first proves
 * possession of its listed key; `revoked` may be a listed device revoked before it ever was.
 */
export type DeviceStatus = "listed" | "active" | "superseded" | "revoked";
export const DEVICE_STATUSES: readonly DeviceStatus[] = ["listed", "active", "superseded", "revoked"];

/** A page of devices: at most `limit` (1 to DEVICE_PAGE_LIMIT, default that), handles above `after`. */
export interface DeviceQuery {
  readonly status?: DeviceStatus | undefined;
  /** A handle: the page starts after it (keyset paging, so a page costs the same deep in the fleet). */
  readonly after?: string | undefined;
  readonly limit?: number | undefined;
}
export const DEVICE_PAGE_LIMIT = 1000;

/** A superseded certificate is revoked too (reason `superseded`); only a `valid` one is unrevoked. */
export type CertificateStatus = "valid" | "superseded" | "revoked";

export interface Device {
  /** reid's handle of the device's key (docs/spec.md §4.2): 32 lowercase hex digits. */
  readonly handle: string;
  readonly status: DeviceStatus;
  /** The device's public key, as SubjectPublicKeyInfo DER. */
  readonly publicKey: Uint8Array;
  /** The serial of the device's current certificate (lowercase hex); null while it has none (listed). */
  readonly certificateSerial: string | null;
  /** The identity this one succeeded, and the one that succeeded it: the succession chain. */
  readonly predecessor: string | null;
  readonly successor: string | null;
  readonly enrolledAt: string;
  readonly updatedAt: string;
}

export interface IssuedCertificate {
  /** Lowercase hex, no leading zero byte. */
  readonly serial: string;
  readonly handle: string;
  readonly der: Uint8Array;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly status: CertificateStatus;
  readonly revocationReason: string | null;
  readonly revokedAt: string | null;
}

/**
 * `fork-refused`: a second successor of a superseded or revoked identity was refused (§10.9): a flag.
 * `listed`: a device imported without a certificate (§10.6); its first certificate is `enrolled`.
 */
export type EventType = "listed" | "enrolled" | "succeeded" | "renewed" | "revoked" | "fork-refused";

export interface RegistryEvent {
  /** Increases by at least one with every event; never reused. */
  readonly sequence: number;
  readonly type: EventType;
  readonly handle: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly at: string;
  /**
   * The event's index in the identity log (docs/spec.md §10.12): one more than the newest event's,
   * from 0, given in the transaction that inserts it, so the log has no hole and no index twice.
   */
  readonly leaf: number;
}

/** A checkpoint of the identity log the registry signed (docs/spec.md §10.12). */
export interface StoredCheckpoint {
  /** The number of leaves it covers. */
  readonly size: number;
  /** The root hash of the first `size` leaves. */
  readonly root: Uint8Array;
  /** The C2SP signed note of the checkpoint. */
  readonly note: string;
  /** When it was signed, `toISOString()` form. */
  readonly at: string;
}

/** One pass of the log's integrator: the hashes of leaves `start`, `start + 1`… and the checkpoint of the size they make. */
export interface LogAppend {
  readonly start: number;
  readonly hashes: readonly Uint8Array[];
  readonly checkpoint: StoredCheckpoint;
}

/** The most events or leaf hashes one read of the log returns, and one pass of the integrator appends. */
export const LOG_PAGE_LIMIT = 10_000;

/** A certificate about to be recorded: the store sets its status (`valid`) itself. */
export type NewCertificate = Pick<IssuedCertificate, "serial" | "der" | "notBefore" | "notAfter">;

export interface Enrollment {
  readonly handle: string;
  readonly publicKey: Uint8Array;
  readonly certificate: NewCertificate;
  /** The SHA-256 of the enrollment token that authorised it, consumed in the same transaction. */
  readonly tokenHash?: Uint8Array;
  /**
   * Authorised by the import list instead (§10.6): the device is listed with this very key, and
   * becomes active with its first certificate; refused (`device-exists`) unless it still is.
   */
  readonly listed?: boolean;
  readonly at: string;
}

export interface Succession {
  /** The active identity that is succeeded: superseded, its certificate revoked (reason superseded). */
  readonly predecessor: string;
  readonly handle: string;
  readonly publicKey: Uint8Array;
  readonly certificate: NewCertificate;
  readonly at: string;
  /** What proves the link (the statement and its signatures, base64url), kept in the event's data. */
  readonly evidence?: Readonly<Record<string, string>>;
}

/**
 * One device of a factory's list, pre-enrolled by the operator: listed without a certificate, or
 * (`registry import --certify`) with the certificate issued it.
 */
export interface ImportedDevice {
  readonly handle: string;
  readonly publicKey: Uint8Array;
  readonly certificate?: NewCertificate;
  /** The list's label for it, if any: kept in its `enrolled` event. */
  readonly label?: string;
}

/** A batch of an import (§10.4 importDevices): one transaction, all of it or none. */
export interface DeviceImport {
  readonly devices: readonly ImportedDevice[];
  readonly at: string;
}

export interface ImportOutcome {
  /**
   * Devices written: each listed with its `listed` event, or, with a certificate, active with it
   * valid and its `enrolled` event.
   */
  readonly imported: number;
  /** Devices already in the registry with the same key (an import run again): left as they are. */
  readonly skipped: number;
}

/** The most devices one importDevices call takes: a batch, not a fleet. */
export const IMPORT_BATCH_LIMIT = 10_000;

/** The most identities one read of flags covers: a whole succession chain (succession.ts). */
export const FLAG_QUERY_HANDLES = 10_000;
export const FLAG_QUERY_LIMIT = 1000;

/** An event that changes no device: a refusal worth the operator's eye (a fork). */
export interface Flag {
  readonly type: "fork-refused";
  readonly handle: string;
  readonly data: Readonly<Record<string, string>>;
  readonly at: string;
}

/** A new certificate for the same device and key: the current one becomes `superseded`. */
export interface Renewal {
  readonly handle: string;
  readonly certificate: NewCertificate;
  /** The serial the renewal replaces: refused if it is no longer the device's current one. */
  readonly previous?: string;
  readonly at: string;
}

export interface Revocation {
  readonly handle: string;
  readonly reason: string;
  readonly at: string;
}

export interface NewToken {
  /** SHA-256 of the token: the token itself is never stored. */
  readonly hash: Uint8Array;
  readonly label: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface EnrollmentToken extends NewToken {
  readonly usedAt: string | null;
}

export interface RegistryStore {
  /**
   * Records a new device with its first certificate, or certifies a listed one (`listed`); refuses
   * a known handle or a spent token.
   */
  enroll(enrollment: Enrollment): Promise<RegistryEvent>;
  /** Links a new identity to an active one, which becomes superseded; refuses a second successor. */
  succeed(succession: Succession): Promise<RegistryEvent>;
  /**
   * Replaces an active device's certificate with a new one of the same key; the old one becomes
   * `superseded`, so a device has exactly one `valid` certificate.
   */
  renew(renewal: Renewal): Promise<RegistryEvent>;
  /** Revokes an active or listed device, and its current certificate if it has one. */
  revoke(revocation: Revocation): Promise<RegistryEvent>;
  /**
   * Records a batch of pre-enrolled devices in one transaction: without a certificate, listed with
   * a `listed` event `{imported: true, label?}`; with one, as `enroll` would (active, its valid
   * certificate, an `enrolled` event `{serial, imported: true, label?}`). A device known with the
   * same key is skipped, one known with another key refuses the batch (`device-exists`).
   */
  importDevices(batch: DeviceImport): Promise<ImportOutcome>;
  /** Records an event on a known device without changing it. */
  flag(flag: Flag): Promise<RegistryEvent>;

  device(handle: string): Promise<Device | null>;
  /** One page of devices in handle order, all or those of one status. */
  devices(query?: DeviceQuery): Promise<Device[]>;
  certificate(serial: string): Promise<IssuedCertificate | null>;
  /** Certificates superseded or revoked that end after `at`: what a CRL lists, oldest revocation first. */
  revokedCertificates(at: string): Promise<IssuedCertificate[]>;
  /** The sequence of the newest event, 0 if none: it changes with every change to a device. */
  lastEventSequence(): Promise<number>;
  /** Events with a sequence above `after`, oldest first, at most `limit` (default 1,000). */
  eventsSince(after: number, limit?: number): Promise<RegistryEvent[]>;
  /**
   * The newest `limit` flags (1 to FLAG_QUERY_LIMIT) on any of `handles` (1 to FLAG_QUERY_HANDLES
   * devices: a chain), oldest first.
   */
  flags(handles: readonly string[], limit: number): Promise<RegistryEvent[]>;
  /** The `succeeded` event that made `handle` a successor; null for a device that was enrolled. */
  succession(handle: string): Promise<RegistryEvent | null>;
  /**
   * The `enrolled` event that certified `handle` by its listing (§10.7's token-less enrollment, or
   * a token sent with a listed key); null for a device certified otherwise, or not yet.
   */
  listedEnrollment(handle: string): Promise<RegistryEvent | null>;

  /** The identity log's length: the newest event's leaf plus one, 0 without events. */
  logSize(): Promise<number>;
  /** The events of leaves `start` to `end − 1` (at most LOG_PAGE_LIMIT), in leaf order. */
  eventsByLeaf(start: number, end: number): Promise<RegistryEvent[]>;
  /** The stored hashes of leaves `start` to `end − 1` (at most LOG_PAGE_LIMIT), in leaf order. */
  logHashes(start: number, end: number): Promise<Uint8Array[]>;
  /**
   * Stores an integrator's pass in one transaction: its leaf hashes and its checkpoint. Refused
   * (`log-moved`) unless `start` is the size of the newest stored checkpoint (0 without one) and
   * the checkpoint's size is `start` plus the hashes: the stored log only grows, without holes.
   */
  appendLog(append: LogAppend): Promise<void>;
  /** The checkpoint of the largest size stored, null before the first. */
  newestCheckpoint(): Promise<StoredCheckpoint | null>;
  /**
   * Whether this process is the one that integrates the log now (§10.12): always with one process
   * on a database; with several, the one that holds the database's lease. Only an optimisation:
   * `appendLog` alone keeps two integrators from both writing a pass.
   */
  logLease(): Promise<boolean>;

  createToken(token: NewToken): Promise<void>;
  /**
   * Spends a token: it must exist, be unused and not expire before `at`. Exactly one of any
   * number of concurrent consumers succeeds; the others get `token-refused`.
   */
  consumeToken(hash: Uint8Array, at: string): Promise<EnrollmentToken>;
  token(hash: Uint8Array): Promise<EnrollmentToken | null>;

  addOperatorToken(hash: Uint8Array, at: string): Promise<void>;
  isOperatorToken(hash: Uint8Array): Promise<boolean>;

  close(): Promise<void>;
}
