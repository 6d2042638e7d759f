import { type Kysely, sql } from "kysely";

/**
 * The `succeeded` event that made a device (docs/spec.md §10.4 `succession`), read when a
 * succession is asked for again (§10.9: the replay's 409 names the original answer's leaf). This
 * index holds only those rows, keyed by the successor's handle, so the read is one index search
 * in a log of millions, and the enrollments and imports that fill the log pay nothing for it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("events_successions")
    .on("events")
    .columns(["handle", "sequence"])
    .where(sql.ref("type"), "=", "succeeded")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("events_successions").execute();
}
