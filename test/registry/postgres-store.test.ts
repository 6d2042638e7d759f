// The PostgreSQL driver of the registry's store (docs/spec.md §10.3, §10.4) on a real PostgreSQL:
// the conformance suite SQLite passes, then what is PostgreSQL's own: events commit in the order
// of their sequence across connections (a careless driver that numbers events from its snapshot fails that check),
// nodes opening a database at once run a pending migration once, the schema's types, and the
// refusals of a database that holds no registry, one already made, one from a newer reid and a
// server out of reach.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { ExitCode, ReidError } from "../../src/errors.js";
import {
  CERTIFICATE_COLUMNS,
  DEVICE_COLUMNS,
  KyselyRegistryStore,
} from "../../src/registry/store/kysely-store.js";
import { copyInsert } from "../../src/registry/store/postgres/copy.js";
import { postgresErrors } from "../../src/registry/store/postgres/errors.js";
import { openPostgresRegistry } from "../../src/registry/store/postgres/open.js";
import { preparedPool } from "../../src/registry/store/postgres/prepared.js";
import { postgresTarget } from "../../src/registry/store/postgres/url.js";
import type { RegistrySchema } from "../../src/registry/store/schema.js";
import type { Enrollment, RegistryStore } from "../../src/registry/store/store.js";
import { closedPort } from "../helpers/ports.js";
import { type Postgres, postgresForSuite } from "../helpers/postgres.js";
import {
  at,
  describeRegistryStore,
  newEnrollment,
  type RegistryFixture,
  refused,
  tokenHash,
} from "./storage-conformance.js";

const suite = postgresForSuite();

const open = (url: string) => openPostgresRegistry(postgresTarget(url));

/** A new database with the registry's schema; `store` opens it through the driver under test. */
async function postgresFixture(
  store: (url: string) => Promise<RegistryStore> = open,
): Promise<RegistryFixture & { readonly url: string }> {
  const url = await suite.server.newDatabase();
  await (await openPostgresRegistry(postgresTarget(url), { create: true })).close();
  const database = new URL(url).pathname.slice(1);
  return {
    url,
    open: () => store(url),
    async failEvents() {
      // Behind the driver's back: the trigger fails every later insert, whoever makes it.
      await suite.server.query(
        `CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'events refused'; END $$;
         CREATE TRIGGER refuse_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_events();`,
        [],
        database,
      );
    },
    async sql(text) {
      await suite.server.query(text, [], database);
    },
  };
}

describeRegistryStore({ name: "PostgreSQL (pg)", fixture: () => postgresFixture() });

/**
 * A careless driver on PostgreSQL: its events take the leaves after the newest event its snapshot
 * shows (`max(leaf)`), with nothing that orders its group against another's.
 */
function unorderedStore(url: string): Promise<RegistryStore> {
  const db = new Kysely<RegistrySchema>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }),
  });
  return Promise.resolve(
    new KyselyRegistryStore(db, postgresErrors("test"), {
      async recordEvents(trx, events) {
        const newest = await trx
          .selectFrom("events")
          .select((eb) => eb.fn.max("leaf").as("leaf"))
          .executeTakeFirst();
        const first = newest?.leaf === null || newest?.leaf === undefined ? 0 : Number(newest.leaf) + 1;
        const rows = await trx
          .insertInto("events")
          .values(events.map((event, i) => ({ ...event, leaf: first + i })))
          .returning(["sequence", "leaf"])
          .execute();
        return rows
          .map((row) => ({ sequence: Number(row.sequence), leaf: Number(row.leaf) }))
          .sort((a, b) => a.leaf - b.leaf);
      },
    }),
  );
}

/** A lock of the test's own, which a trigger makes the first change wait for after its event is in. */
const HELD = 4242;

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail("waited 5 s for the database");
}

/** A revocation's event, once inserted, waits for the test's lock HELD before its transaction goes on. */
async function holdRevocations(server: Postgres, database: string): Promise<void> {
  await server.query(
    `CREATE FUNCTION hold_revocations() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.type = 'revoked' THEN PERFORM pg_advisory_xact_lock(${HELD}); END IF; RETURN NEW; END $$;
     CREATE TRIGGER hold_revocations AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION hold_revocations();`,
    [],
    database,
  );
}

/** Whether a connection waits for the advisory lock `objid` (the test's own, HELD). */
async function waitsForLock(server: Postgres, database: string, objid: number): Promise<boolean> {
  const rows = await server.query(
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
    [objid],
    database,
  );
  return rows.length > 0;
}

/**
 * Whether a connection waits for the log's length (its row, locked by the group writing its events
 * until it commits); `written`: one whose transaction has written already.
 */
async function waitsForLogLength(server: Postgres, database: string, written = false): Promise<boolean> {
  const rows = await server.query(
    `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
       AND query LIKE '%update log_length%' AND ($1 = false OR backend_xid IS NOT NULL)`,
    [written],
    database,
  );
  return rows.length > 0;
}

/**
 * Two changes on two connections: the first has its event (and so its sequence) but has not
 * committed; the second is asked meanwhile. A follower that reads the log in between, and from the
 * last sequence it saw after both commit, must have read both events.
 */
async function lateCommitCheck(fixture: RegistryFixture & { url: string }, server: Postgres): Promise<void> {
  const database = new URL(fixture.url).pathname.slice(1);
  const [first, second, follower] = [await fixture.open(), await fixture.open(), await fixture.open()];
  const holder = new pg.Client({ connectionString: fixture.url });
  await holder.connect();
  try {
    const revoked = newEnrollment();
    await first.enroll(revoked);
    await holdRevocations(server, database);
    await holder.query(`SELECT pg_advisory_lock(${HELD})`);
    const last = await follower.lastEventSequence();
    const waiting = (objid: number) => waitsForLock(server, database, objid);

    const late = first.revoke({ handle: revoked.handle, reason: "keyCompromise", at: at(5) });
    await waitFor(() => waiting(HELD));
    let settled = false;
    const next = second.enroll(newEnrollment({ at: at(6) })).finally(() => {
      settled = true;
    });
    // Either may be refused while the other is still awaited below: the refusal is the check's
    // answer, not an unhandled rejection.
    for (const change of [late, next]) change.catch(() => undefined);
    // The second change waits for the first (the log's length), or is in (a careless driver), or
    // (careless) waits on the first's leaf, the same as its own, to see whether the unique index takes it.
    const leafTaken = async () =>
      (
        await server.query(
          "SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted",
          [],
          database,
        )
      ).length > 0;
    await waitFor(async () => settled || (await waitsForLogLength(server, database)) || (await leafTaken()));
    const seen = await follower.eventsSince(last);
    await holder.query(`SELECT pg_advisory_unlock(${HELD})`);
    const made = [await late, await next];
    seen.push(...(await follower.eventsSince(seen.at(-1)?.sequence ?? last)));
    assert.deepEqual(
      seen.map((event) => event.type),
      made.map((event) => event.type),
      "the follower passed over an event that committed late",
    );
  } finally {
    await holder.end();
    for (const store of [first, second, follower]) await store.close();
  }
}

describe("PostgreSQL's own", () => {
  test("events commit in the order of their sequence: a follower never passes over one that commits late", async () => {
    await lateCommitCheck(await postgresFixture(), suite.server);
  });

  test("a change waits for the log's length only to insert its events: its own rows are written before, beside the group that holds it", async () => {
    const fixture = await postgresFixture();
    const database = new URL(fixture.url).pathname.slice(1);
    const [first, second] = [await fixture.open(), await fixture.open()];
    const holder = new pg.Client({ connectionString: fixture.url });
    await holder.connect();
    try {
      const revoked = newEnrollment();
      await first.enroll(revoked);
      await holdRevocations(suite.server, database);
      await holder.query(`SELECT pg_advisory_lock(${HELD})`);
      // The first group holds the event order's lock, its event in and its commit held back.
      const late = first.revoke({ handle: revoked.handle, reason: "keyCompromise", at: at(5) });
      await waitFor(() => waitsForLock(suite.server, database, HELD));
      const enrollment = newEnrollment({ at: at(6) });
      const next = second.enroll(enrollment);
      // The second has spent nothing of the first's time: its token, device and certificate are
      // written (its transaction has an id), and only then does it wait for the log's length.
      await waitFor(() => waitsForLogLength(suite.server, database, true));
      await holder.query(`SELECT pg_advisory_unlock(${HELD})`);
      const [revocation, enrolled] = [await late, await next];
      assert.equal(enrolled.leaf, revocation.leaf + 1);
      assert.ok(enrolled.sequence > revocation.sequence);
    } finally {
      await holder.end();
      for (const store of [first, second]) await store.close();
    }
  });

  test("the check of the event order fails a driver that numbers its events from its snapshot, unordered", async () => {
    await assert.rejects(
      lateCommitCheck(await postgresFixture(unorderedStore), suite.server),
      // Unordered, the second change takes the late one's leaf (the log's index, one more than the
      // newest it sees), which the unique index refuses once the late one commits; or it passes it.
      /passed over an event that committed late|duplicate key value violates unique constraint "events_leaf"/,
    );
  });

  test("nodes opening a database at once run a pending migration once, and all of them work", async () => {
    const { url } = await postgresFixture();
    const database = new URL(url).pathname.slice(1);
    // A registry from before 0002 (and so before 0003 to 0007): what they made gone, their names not recorded.
    await suite.server.query(
      `ALTER TABLE devices DROP CONSTRAINT devices_listed, DROP CONSTRAINT devices_certified,
         DROP CONSTRAINT devices_status, ADD CONSTRAINT devices_status CHECK (status in ('active', 'superseded', 'revoked')),
         ALTER COLUMN certificate_serial SET NOT NULL;
       DROP TABLE log_length; DROP TABLE log_hashes; DROP TABLE log_checkpoints; DROP INDEX events_leaf; ALTER TABLE events DROP COLUMN leaf;
       DROP INDEX events_flags; DROP INDEX events_successions; DROP INDEX events_listed_enrollments;
       DELETE FROM registry_migrations
         WHERE name IN ('0002-flags-index', '0003-identity-log', '0004-successions-index', '0005-listed-devices',
           '0006-listed-enrollments-index', '0007-log-length')`,
      [],
      database,
    );
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(url)));
    try {
      await Promise.all(stores.map((store) => store.enroll(newEnrollment())));
      assert.equal((await (stores[0] as RegistryStore).devices()).length, 4);
    } finally {
      for (const store of stores) await store.close();
    }
    const ran = await suite.server.query("SELECT name FROM registry_migrations ORDER BY name", [], database);
    assert.deepEqual(ran, [
      { name: "0001-initial" },
      { name: "0002-flags-index" },
      { name: "0003-identity-log" },
      { name: "0004-successions-index" },
      { name: "0005-listed-devices" },
      { name: "0006-listed-enrollments-index" },
      { name: "0007-log-length" },
    ]);
    const index = await suite.server.query(
      "SELECT 1 FROM pg_indexes WHERE indexname = 'events_flags'",
      [],
      database,
    );
    assert.equal(index.length, 1);
  });

  test("a group of enrollments whose connection ends mid-statement is refused whole, never run again: whether it committed is not known", async () => {
    const fixture = await postgresFixture();
    // The first event inserted ends its own connection (a sequence is not rolled back: once only).
    await fixture.sql(
      `CREATE SEQUENCE ended; CREATE FUNCTION end_once() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('ended') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$;
       CREATE TRIGGER end_once AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION end_once();`,
    );
    const store = await fixture.open();
    try {
      const hashes = [tokenHash(), tokenHash(), tokenHash()];
      for (const hash of hashes) {
        await store.createToken({ hash, label: null, createdAt: at(0), expiresAt: at(3600) });
      }
      const group = hashes.map((hash) => newEnrollment({ at: at(5), tokenHash: hash }));
      const outcomes = await Promise.allSettled(group.map((enrollment) => store.enroll(enrollment)));
      // Run again, the group would have gone through: its end was not an answer, and a group that
      // may have committed is not written a second time.
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ["rejected", "rejected", "rejected"],
      );
      for (const [i, enrollment] of group.entries()) {
        assert.equal(await store.device(enrollment.handle), null);
        assert.equal((await store.token(hashes[i] as Uint8Array))?.usedAt, null);
      }
      // The store goes on, on another connection: the tokens are still good.
      const again = await store.enroll(group[0] as Enrollment);
      assert.equal(again.handle, group[0]?.handle);
    } finally {
      await store.close();
    }
  });

  test("bytes are bytea and the event sequence an identity the database numbers", async () => {
    const { url } = await postgresFixture();
    const columns = await suite.server.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns
       WHERE table_schema = 'public' AND (data_type = 'bytea' OR is_identity = 'YES') ORDER BY 1, 2`,
      [],
      new URL(url).pathname.slice(1),
    );
    assert.deepEqual(columns, [
      { table_name: "certificates", column_name: "der", data_type: "bytea", is_identity: "NO" },
      { table_name: "devices", column_name: "public_key", data_type: "bytea", is_identity: "NO" },
      { table_name: "enrollment_tokens", column_name: "hash", data_type: "bytea", is_identity: "NO" },
      { table_name: "events", column_name: "sequence", data_type: "bigint", is_identity: "YES" },
      { table_name: "log_checkpoints", column_name: "root", data_type: "bytea", is_identity: "NO" },
      { table_name: "log_hashes", column_name: "hashes", data_type: "bytea", is_identity: "NO" },
      { table_name: "operator_tokens", column_name: "hash", data_type: "bytea", is_identity: "NO" },
    ]);
  });

  test("a database without a registry, one that holds one already and one from a newer reid are refused", async () => {
    const empty = await suite.server.newDatabase();
    await refused(open(empty), "no-registry", ExitCode.state);
    const { url } = await postgresFixture();
    await refused(
      openPostgresRegistry(postgresTarget(url), { create: true }),
      "registry-exists",
      ExitCode.state,
    );
    await suite.server.query(
      "INSERT INTO registry_migrations (name, timestamp) VALUES ('9999-future', 'now')",
      [],
      new URL(url).pathname.slice(1),
    );
    await refused(open(url), "registry-corrupt", ExitCode.storage);
    await refused(
      openPostgresRegistry(postgresTarget(url), { readOnly: true }),
      "registry-corrupt",
      ExitCode.storage,
    );
  });

  test("an import's COPY takes every value as itself: text with backslashes, tabs and newlines, NULL, bytes", async () => {
    const { url } = await postgresFixture();
    const db = new Kysely<RegistrySchema>({
      dialect: new PostgresDialect({ pool: preparedPool(new pg.Pool({ connectionString: url, max: 1 })) }),
    });
    try {
      const enrollment = newEnrollment();
      const der = Uint8Array.from([0, 1, 0x5c, 9, 10, 13, 255]);
      const reason = 'a\\b\tc\nd\re "\\N" \\x00';
      const rows = [
        [enrollment.handle, "active", enrollment.publicKey, "77", null, null, at(0), at(0)],
      ] as const;
      const certificate = ["77", enrollment.handle, der, at(0), at(60), "revoked", reason, at(1)] as const;
      await db.transaction().execute(async (trx) => {
        await copyInsert(trx, "devices", DEVICE_COLUMNS, rows);
        await copyInsert(trx, "certificates", CERTIFICATE_COLUMNS, [certificate]);
      });
      const [read] = await db.selectFrom("certificates").selectAll().execute();
      assert.deepEqual(new Uint8Array(read?.der as Uint8Array), der);
      assert.equal(read?.revocation_reason, reason);
      const [device] = await db.selectFrom("devices").selectAll().execute();
      assert.equal(device?.predecessor, null);
      assert.deepEqual(
        new Uint8Array(device?.public_key as Uint8Array),
        new Uint8Array(enrollment.publicKey),
      );
      // A refused COPY (the certificate's serial again) fails its transaction, which writes nothing.
      await assert.rejects(
        db
          .transaction()
          .execute((trx) => copyInsert(trx, "certificates", CERTIFICATE_COLUMNS, [certificate])),
        /duplicate key/,
      );
      assert.equal((await db.selectFrom("certificates").selectAll().execute()).length, 1);
    } finally {
      await db.destroy();
    }
  });

  test("a read-only store writes nothing, even on the primary", async (t: TestContext) => {
    const { url } = await postgresFixture();
    const store = await openPostgresRegistry(postgresTarget(url), { readOnly: true });
    t.after(() => store.close());
    await assert.rejects(store.enroll(newEnrollment()), (error: unknown) => {
      assert.ok(error instanceof ReidError, String(error));
      assert.equal(error.code, "registry-failure");
      assert.match(error.message, /takes no writes/);
      return true;
    });
    assert.deepEqual(await store.devices(), []);
  });

  test("a server out of reach is database-unreachable (exit 7) naming HOST:PORT, nothing of the URL's user or database", async () => {
    const port = await closedPort();
    const closed = `postgres://someone@127.0.0.1:${port}/secretive`;
    await assert.rejects(open(closed), (error: unknown) => {
      assert.ok(error instanceof ReidError, String(error));
      assert.equal(error.code, "database-unreachable");
      assert.equal(error.exitCode, ExitCode.unreachable);
      assert.match(error.message, new RegExp(`^cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} `));
      assert.doesNotMatch(error.message, /someone|secretive|\n/);
      return true;
    });
  });

  test("a URL with a password is refused before anything connects (exit 2), and so is one not of PostgreSQL", () => {
    for (const url of [
      "postgres://reid:hunter2@127.0.0.1/registry",
      "postgresql://reid@127.0.0.1/registry?password=hunter2",
      "mysql://reid@127.0.0.1/registry",
      "registry.db",
    ]) {
      assert.throws(
        () => postgresTarget(url),
        (error: unknown) => {
          assert.ok(error instanceof ReidError, String(error));
          assert.equal(error.exitCode, ExitCode.usage);
          assert.doesNotMatch(error.message, /hunter2/);
          return true;
        },
      );
    }
    assert.match(
      (() => {
        try {
          postgresTarget("postgres://reid:hunter2@127.0.0.1/registry");
        } catch (error) {
          return (error as Error).message;
        }
        return "";
      })(),
      /~\/\.pgpass.*PGPASSFILE/,
    );
    assert.deepEqual(postgresTarget("postgres://reid@db.example:6432/registry"), {
      url: "postgres://reid@db.example:6432/registry",
      where: "db.example:6432",
    });
  });
});
