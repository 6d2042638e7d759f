import { type Kysely, PostgresAdapter, type RawBuilder, sql } from "kysely";

/**
 * Listed devices (docs/spec.md §10.6): `registry import` records a device without a certificate,
 * status `listed`, certified when it first proves possession of its listed key. The device table
 * takes the status and a null serial, and holds that a serial is missing exactly where it may be:
 * on a listed device always, on a revoked one that was revoked while listed, nowhere else.
 *
 * PostgreSQL changes the constraints in place. SQLite changes no constraint of a table in place:
 * the table is copied into one of the new definition and put in the old one's place (the procedure
 * of SQLite's "ALTER TABLE" page, §7), in one transaction, with foreign keys off meanwhile (the
 * other tables name `devices`, which is briefly the copy) and checked before the commit.
 */
const STATUSES = sql`status in ('listed', 'active', 'superseded', 'revoked')`;
const LISTED = sql`status <> 'listed' or certificate_serial is null`;
const CERTIFIED = sql`certificate_serial is not null or status in ('listed', 'revoked')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table devices alter column certificate_serial drop not null,
      drop constraint devices_status,
      add constraint devices_status check (${STATUSES}),
      add constraint devices_listed check (${LISTED}),
      add constraint devices_certified check (${CERTIFIED})`.execute(db);
    return;
  }
  await rebuildOnSqlite(db, "text unique", [STATUSES, LISTED, CERTIFIED]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table devices drop constraint devices_listed, drop constraint devices_certified,
      drop constraint devices_status,
      add constraint devices_status check (status in ('active', 'superseded', 'revoked')),
      alter column certificate_serial set not null`.execute(db);
    return;
  }
  await rebuildOnSqlite(db, "text not null unique", [sql`status in ('active', 'superseded', 'revoked')`]);
}

/** The device table again, with the serial's column type and the status checks given. */
async function rebuildOnSqlite(
  db: Kysely<unknown>,
  serial: "text unique" | "text not null unique",
  [status, ...more]: readonly RawBuilder<unknown>[],
): Promise<void> {
  const extra = more.map(
    (check, i) =>
      sql`, constraint ${sql.id(["devices_listed", "devices_certified"][i] as string)} check (${check})`,
  );
  // Kysely runs SQLite's migrations outside a transaction (its DDL is transactional, but kysely
  // does not say so of the dialect), on its one connection: this one opens its own on it.
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await sql`begin immediate`.execute(db);
    try {
      await sql`create table "devices_new" ("handle" text primary key, "status" text not null, "public_key" blob not null, "certificate_serial" ${sql.raw(serial)}, "predecessor" text unique references "devices" ("handle"), "successor" text unique, "enrolled_at" text not null, "updated_at" text not null, constraint "devices_successor_exists" foreign key ("successor") references "devices" ("handle") deferrable initially deferred, constraint "devices_handle" check (length(handle) = 32), constraint "devices_status" check (${status}), constraint "devices_successor" check ((successor is null) = (status <> 'superseded')), constraint "devices_not_own_predecessor" check (predecessor is null or predecessor <> handle)${sql.join(extra, sql``)})`.execute(
        db,
      );
      await sql`insert into "devices_new" select "handle", "status", "public_key", "certificate_serial", "predecessor", "successor", "enrolled_at", "updated_at" from "devices"`.execute(
        db,
      );
      await sql`drop table "devices"`.execute(db);
      await sql`alter table "devices_new" rename to "devices"`.execute(db);
      await sql`create index "devices_by_status" on "devices" ("status", "handle")`.execute(db);
      const broken = await sql`pragma foreign_key_check`.execute(db);
      if (broken.rows.length > 0) throw new Error("the device table's copy breaks a foreign key");
      await sql`commit`.execute(db);
    } catch (error) {
      await sql`rollback`.execute(db);
      throw error;
    }
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}
