import type { Kysely } from "kysely";
import { columnTypes } from "./column-types.js";

/**
 * The identity log (docs/spec.md §10.12): each event's index in the log (`events.leaf`, dense from
 * 0, unique), the checkpoints the registry signed, and the leaf hashes its integrator computed, so
 * a server starts on a log of millions by reading 32 bytes a leaf instead of re-hashing every
 * event's canonical JSON (several times the work). Written with the schema builder only, the
 * types of bytes and counts the dialect's (column-types.ts), so SQLite and PostgreSQL run the same
 * file.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // An index, a size and a first leaf are counts that grow as the event sequence does.
  const { bytes, sequence: count } = columnTypes(db);
  // NOT NULL on a table that may hold rows needs a default (SQLite adds a column no other way).
  // 0 is also what a row written without its index would take, and the unique index below
  // refuses it in any log that has a first event: no event is left out of the log unnoticed.
  await db.schema
    .alterTable("events")
    .addColumn("leaf", count, (c) => c.notNull().defaultTo(0))
    .execute();
  // The events of a registry made before the log are its first leaves, in the order they happened.
  const events = db.withTables<{ events: { sequence: number; leaf: number } }>();
  await events
    .updateTable("events")
    .from(
      events
        .selectFrom("events")
        .select((eb) => [
          "sequence as numbered_sequence",
          eb(
            eb.fn.agg<number>("row_number").over((over) => over.orderBy("sequence")),
            "-",
            1,
          ).as("position"),
        ])
        .as("numbered"),
    )
    .set((eb) => ({ leaf: eb.ref("numbered.position") }))
    .whereRef("numbered.numbered_sequence", "=", "events.sequence")
    .execute();
  await db.schema.createIndex("events_leaf").unique().on("events").column("leaf").execute();

  await db.schema
    .createTable("log_checkpoints")
    .addColumn("size", count, (c) => c.primaryKey())
    .addColumn("root", bytes, (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .execute();

  // One row a pass of the integrator: its leaves' hashes back to back, so a server reads a
  // million leaves in a few hundred rows, not a million.
  await db.schema
    .createTable("log_hashes")
    .addColumn("start", count, (c) => c.primaryKey())
    .addColumn("hashes", bytes, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("log_hashes").execute();
  await db.schema.dropTable("log_checkpoints").execute();
  await db.schema.dropIndex("events_leaf").execute();
  await db.schema.alterTable("events").dropColumn("leaf").execute();
}
