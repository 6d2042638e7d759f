import { type Kysely, sql } from "kysely";

/**
 * The `enrolled` event that certified a listed device (docs/spec.md §10.4 `listedEnrollment`),
 * read when a listed device asks again for the certificate whose answer it lost (§10.7): its leaf
 * is the original answer's `Reid-Log-Index`. Only the listed enrollments' rows are in it (their
 * data is `{"serial":…,"listed":true}`, JSON.stringify's order), keyed by handle, so the read is
 * one index search in a log of millions, and token enrollments, renewals and imports pay nothing
 * for it. The predicate is text both dialects compare alike, written the same in the query.
 */
export const LISTED_ENROLLMENT = sql<boolean>`type = 'enrolled' and data like '%"listed":true}'`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("events_listed_enrollments")
    .on("events")
    .columns(["handle", "sequence"])
    .where(LISTED_ENROLLMENT)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("events_listed_enrollments").execute();
}
