import { type Kysely, sql } from "kysely";
import { columnTypes } from "./column-types.js";

/**
 * The identity log's length, the leaf its next event takes (docs/spec.md §10.3, §10.12), in one row
 * that a group's events statement updates as it inserts them. On PostgreSQL the update's row lock
 * is what orders the nodes' groups, held until the commit, as the advisory lock it replaces was; it
 * is taken by the statement that reads the length, so no statement of its own goes before it, and
 * the length read is the newest committed one (an UPDATE reads the row it waited for anew, where a
 * `max(leaf)` would read the statement's snapshot). Set from the events already there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { sequence: count } = columnTypes(db);
  await db.schema
    .createTable("log_length")
    // One row only: its key can be nothing but 1.
    .addColumn("row", "integer", (c) => c.primaryKey().check(sql`"row" = 1`))
    .addColumn("leaves", count, (c) => c.notNull().check(sql`leaves >= 0`))
    .execute();
  await sql`insert into log_length ("row", leaves) select 1, coalesce(max(leaf) + 1, 0) from events`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("log_length").execute();
}
