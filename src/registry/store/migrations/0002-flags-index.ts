import { type Kysely, sql } from "kysely";

/**
 * A device's flags (docs/spec.md §10.4: events that change no device, a refused fork) are read by
 * `registry show` for every identity of a chain. This index holds only those rows, so the read
 * costs the same in a log of millions of events and the enrollments and successions that fill
 * the log pay nothing for it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("events_flags")
    .on("events")
    .columns(["handle", "sequence"])
    .where(sql.ref("type"), "=", "fork-refused")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("events_flags").execute();
}
