import type { Generated } from "kysely";

/**
 * The registry's tables as the queries see them (docs/spec.md §10.3). Blobs are Uint8Array, times
 * ISO-8601 text, JSON text: types every SQL database has, so one set of migrations serves them all.
 */
export interface RegistrySchema {
  devices: DevicesTable;
  certificates: CertificatesTable;
  enrollment_tokens: EnrollmentTokensTable;
  operator_tokens: OperatorTokensTable;
  events: EventsTable;
  log_checkpoints: LogCheckpointsTable;
  log_hashes: LogHashesTable;
  log_length: LogLengthTable;
}

export interface DevicesTable {
  handle: string;
  status: string;
  public_key: Uint8Array;
  /** Null while the device is listed (docs/spec.md §10.6). */
  certificate_serial: string | null;
  predecessor: string | null;
  successor: string | null;
  enrolled_at: string;
  updated_at: string;
}

export interface CertificatesTable {
  serial: string;
  handle: string;
  der: Uint8Array;
  not_before: string;
  not_after: string;
  status: string;
  revocation_reason: string | null;
  revoked_at: string | null;
}

export interface EnrollmentTokensTable {
  hash: Uint8Array;
  label: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface OperatorTokensTable {
  hash: Uint8Array;
  created_at: string;
}

export interface EventsTable {
  sequence: Generated<number>;
  type: string;
  handle: string;
  data: string;
  at: string;
  /** The event's index in the identity log (docs/spec.md §10.12): dense from 0, unique. */
  leaf: number;
}

/** A checkpoint of the identity log the registry signed: its size, root and signed note. */
export interface LogCheckpointsTable {
  size: number;
  root: Uint8Array;
  note: string;
  at: string;
}

/**
 * The hashes of the leaves one pass of the integrator appended (leaves `start`…, 32 bytes each,
 * back to back), so a server rebuilds its tree without re-hashing the events.
 */
export interface LogHashesTable {
  start: number;
  hashes: Uint8Array;
}

/** The identity log's length: the leaf the next event takes (one row, `row` = 1). */
export interface LogLengthTable {
  row: number;
  leaves: number;
}
