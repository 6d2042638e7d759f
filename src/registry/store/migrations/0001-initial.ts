import { type Kysely, sql } from "kysely";
import { columnTypes } from "./column-types.js";

/**
 * The first schema (docs/spec.md §10.3). The CHECK constraints are the invariants the database
 * itself holds, whatever code writes to it: a status from the list, a successor only on an
 * identity that is no longer active, a revocation time exactly on revoked certificates, one use of
 * a token at most. Written with kysely's schema builder so that another dialect runs the same file;
 * the check expressions are SQL that kysely has no builder for, and the types of bytes and of the
 * event sequence are the dialect's (column-types.ts: on SQLite, the words this file first wrote).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const types = columnTypes(db);
  await db.schema
    .createTable("devices")
    .addColumn("handle", "text", (c) => c.primaryKey())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("public_key", types.bytes, (c) => c.notNull())
    .addColumn("certificate_serial", "text", (c) => c.notNull().unique())
    .addColumn("predecessor", "text", (c) => c.unique().references("devices.handle"))
    .addColumn("successor", "text", (c) => c.unique())
    .addColumn("enrolled_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    // Checked at commit: a succession marks the old identity before its successor's row exists.
    .addForeignKeyConstraint("devices_successor_exists", ["successor"], "devices", ["handle"], (fk) =>
      fk.deferrable().initiallyDeferred(),
    )
    .addCheckConstraint("devices_handle", sql`length(handle) = 32`)
    .addCheckConstraint("devices_status", sql`status in ('active', 'superseded', 'revoked')`)
    .addCheckConstraint("devices_successor", sql`(successor is null) = (status <> 'superseded')`)
    .addCheckConstraint("devices_not_own_predecessor", sql`predecessor is null or predecessor <> handle`)
    .execute();
  await db.schema.createIndex("devices_by_status").on("devices").columns(["status", "handle"]).execute();

  await db.schema
    .createTable("certificates")
    .addColumn("serial", "text", (c) => c.primaryKey())
    .addColumn("handle", "text", (c) => c.notNull().references("devices.handle"))
    .addColumn("der", types.bytes, (c) => c.notNull())
    .addColumn("not_before", "text", (c) => c.notNull())
    .addColumn("not_after", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("revocation_reason", "text")
    .addColumn("revoked_at", "text")
    .addCheckConstraint("certificates_status", sql`status in ('valid', 'superseded', 'revoked')`)
    .addCheckConstraint(
      "certificates_revoked",
      sql`(status = 'valid') = (revoked_at is null) and (revoked_at is null) = (revocation_reason is null)`,
    )
    .execute();
  await db.schema.createIndex("certificates_by_handle").on("certificates").column("handle").execute();

  await db.schema
    .createTable("enrollment_tokens")
    .addColumn("hash", types.bytes, (c) => c.primaryKey())
    .addColumn("label", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("used_at", "text")
    .addCheckConstraint("enrollment_tokens_hash", sql`length(hash) = 32`)
    .execute();

  await db.schema
    .createTable("operator_tokens")
    .addColumn("hash", types.bytes, (c) => c.primaryKey())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addCheckConstraint("operator_tokens_hash", sql`length(hash) = 32`)
    .execute();

  // The sequence only grows: AUTOINCREMENT never hands out a number twice, even after the newest
  // row is gone (on PostgreSQL an identity column, column-types.ts).
  await db.schema
    .createTable("events")
    .addColumn("sequence", types.sequence, types.numbered)
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("handle", "text", (c) => c.notNull().references("devices.handle"))
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["events", "operator_tokens", "enrollment_tokens", "certificates", "devices"]) {
    await db.schema.dropTable(table).execute();
  }
}
