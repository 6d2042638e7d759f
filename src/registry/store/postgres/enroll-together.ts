import { CompiledQuery, type Kysely, type Transaction } from "kysely";
import { deviceExists, registryFailure, tokenRefused } from "../../registry-errors.js";
import { type NewEvent, type WrittenEvent, writtenInOrder } from "../kysely-store.js";
import type { RegistrySchema } from "../schema.js";
import type { Enrollment } from "../store.js";
import { refusedByPostgres } from "./errors.js";
import { APPENDED_EVENTS, eventColumns } from "./record-events.js";

/**
 * Enrollments, each a row of arrays: every token spent, device and certificate inserted by one
 * statement (PostgreSQL runs each part of a WITH that writes once and to the end, whether the rest
 * reads it or not), one round trip for a group as for one enrollment. A token asked twice is spent
 * once, a handle taken (or asked twice) inserted once: the counts fall short, and a group runs
 * again change by change, where each refusal is its own.
 */
const ENROLLED = `asked as (
  select * from unnest($1::bytea[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::text[])
    as a(token, handle, public_key, serial, der, not_before, not_after, at)
), spent as (
  update enrollment_tokens t set used_at = a.at from asked a
  where t.hash = a.token and t.used_at is null and t.expires_at > a.at
  returning t.hash
), device as (
  insert into devices (handle, status, public_key, certificate_serial, predecessor, successor, enrolled_at, updated_at)
  select handle, 'active', public_key, serial, null, null, at, at from asked
  on conflict (handle) do nothing
  returning handle
), certificate as (
  insert into certificates (serial, handle, der, not_before, not_after, status, revocation_reason, revoked_at)
  select serial, handle, der, not_before, not_after, 'valid', null, null from asked
  returning serial
)`;

/** In a transaction (a group's, or one enrollment's): the counts, checked by the caller. */
const ENROLL_TOGETHER = `with ${ENROLLED}
select (select count(*) from spent) as spent, (select count(*) from device) as inserted`;

/**
 * A group of enrollments alone, with its events, committed by itself (no BEGIN, no COMMIT: the
 * statement is its own transaction, one round trip; the log length's row is locked from its
 * events' insert to that commit only). If a count falls short, the division by zero fails the
 * statement, and nothing of it stays: a filter there would have committed what the others wrote.
 */
const ENROLL_AND_COMMIT = `with ${ENROLLED}, ${APPENDED_EVENTS(9)}
select sequence, leaf from event
where 1 / (case when (select count(*) from spent) = $14 and (select count(*) from device) = $14 then 1 else 0 end) = 1`;

function enrollmentColumns(enrollments: readonly Enrollment[]): unknown[][] {
  const column = <T>(of: (enrollment: Enrollment) => T) => enrollments.map(of);
  return [
    column((enrollment) => enrollment.tokenHash),
    column((enrollment) => enrollment.handle),
    column((enrollment) => enrollment.publicKey),
    column((enrollment) => enrollment.certificate.serial),
    column((enrollment) => enrollment.certificate.der),
    column((enrollment) => enrollment.certificate.notBefore),
    column((enrollment) => enrollment.certificate.notAfter),
    column((enrollment) => enrollment.at),
  ];
}

/**
 * Enrollments written in the transaction, or a refusal thrown (the transaction, or its savepoint,
 * takes back what the other parts wrote): one enrollment's own (`token-refused`, `device-exists`),
 * or for several that one of them is refused, and they run again one by one.
 */
export async function enrollTogether(
  trx: Transaction<RegistrySchema>,
  enrollments: readonly Enrollment[],
): Promise<void> {
  const { rows } = await trx.executeQuery<{ spent: string; inserted: string }>(
    CompiledQuery.raw(ENROLL_TOGETHER, enrollmentColumns(enrollments)),
  );
  const [spent, inserted] = [Number(rows[0]?.spent), Number(rows[0]?.inserted)];
  const tokens = enrollments.filter((enrollment) => enrollment.tokenHash).length;
  if (spent === tokens && inserted === enrollments.length) return;
  const [only] = enrollments;
  if (enrollments.length === 1 && only) throw spent !== tokens ? tokenRefused() : deviceExists(only.handle);
  throw registryFailure("an enrollment of the group is refused");
}

/**
 * The group's enrollments and `events` (theirs, in order) committed by one statement: what each
 * event was given. Null when PostgreSQL refused the statement (a count short, a constraint, a
 * lock not had): it did not commit, and the enrollments run again one by one. A failure without
 * PostgreSQL's answer (a connection lost) is thrown: the statement may have committed.
 */
export async function enrollAndCommit(
  db: Kysely<RegistrySchema>,
  enrollments: readonly Enrollment[],
  events: readonly NewEvent[],
): Promise<WrittenEvent[] | null> {
  try {
    const { rows } = await db.executeQuery<{ sequence: string; leaf: string }>(
      CompiledQuery.raw(ENROLL_AND_COMMIT, [
        ...enrollmentColumns(enrollments),
        ...eventColumns(events),
        enrollments.length,
      ]),
    );
    return writtenInOrder(rows);
  } catch (error) {
    if (refusedByPostgres(error)) return null;
    throw error;
  }
}
