// The SQLite driver of the registry's store (docs/spec.md §10.3, §10.4): the conformance suite, the
// suite failing against drivers known to be wrong, and what is SQLite's own: the file's mode, WAL,
// migrations that run once, and refusals of files that are not a registry's database.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import Database from "better-sqlite3";
import {
  type CompiledQuery,
  type ControlledTransaction,
  Kysely,
  SqliteDialect,
  type Transaction,
} from "kysely";
import { ExitCode, ReidError } from "../../src/errors.js";
import { tokenRefused } from "../../src/registry/registry-errors.js";
import { GroupCommit, type Outcome, settle } from "../../src/registry/store/group-commit.js";
import {
  appendEvent,
  insertCertificate,
  insertDevice,
  KyselyRegistryStore,
  type NewEvent,
  type WrittenEvent,
  writeEvents,
} from "../../src/registry/store/kysely-store.js";
import type { RegistrySchema } from "../../src/registry/store/schema.js";
import { openSqliteRegistry, translateSqliteError } from "../../src/registry/store/sqlite/open.js";
import type {
  Device,
  DeviceImport,
  DeviceQuery,
  Enrollment,
  EnrollmentToken,
  ImportOutcome,
  LogAppend,
  NewCertificate,
  RegistryEvent,
  Renewal,
} from "../../src/registry/store/store.js";
import { tempDir } from "../helpers/temp.js";
import {
  at,
  type CertifiedImport,
  CHECKS,
  describeRegistryStore,
  newEnrollment,
  newImported,
  type RegistryFixture,
} from "./storage-conformance.js";

/** A fresh database file; `store` opens it through the driver under test. */
async function sqliteFixture(
  t: TestContext,
  store: (path: string) => Promise<KyselyRegistryStore> = async (path) =>
    (await openSqliteRegistry(path)) as KyselyRegistryStore,
): Promise<RegistryFixture & { readonly path: string }> {
  const { dir } = tempDir(t, "reid-registry-");
  const path = join(dir, "registry.db");
  await (await openSqliteRegistry(path, { create: true })).close();
  return {
    path,
    open: () => store(path),
    async failEvents() {
      // The test's own connection, behind the driver's back: the trigger fails every later insert.
      const raw = new Database(path);
      raw.exec(
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'events refused'); END",
      );
      raw.close();
    },
    async sql(text) {
      const raw = new Database(path);
      try {
        raw.exec(text);
      } finally {
        raw.close();
      }
    },
  };
}

describeRegistryStore({ name: "SQLite (better-sqlite3)", fixture: (t) => sqliteFixture(t) });

/** A kysely database on the file with kysely's plain SQLite dialect, as a careless driver would open it. */
function plainKysely(path: string): Kysely<RegistrySchema> {
  const database = new Database(path);
  database.pragma("foreign_keys = ON");
  return new Kysely<RegistrySchema>({ dialect: new SqliteDialect({ database }) });
}

/** The driver's own statements for a device, its certificate and its event, each on its own: no transaction. */
class NoTransactionStore extends KyselyRegistryStore {
  constructor(private readonly plain: Kysely<RegistrySchema>) {
    super(plain, translateSqliteError);
  }

  override async enroll(e: Enrollment): Promise<RegistryEvent> {
    await insertDevice(this.plain, e, null);
    await insertCertificate(this.plain, e.handle, e.certificate);
    return appendEvent(this.plain, "enrolled", e.handle, { serial: e.certificate.serial }, e.at);
  }
}

/** Groups changes into one transaction but runs each without its savepoint: a refused one's writes stay. */
class CarelessGroup extends GroupCommit<RegistrySchema, NewEvent, WrittenEvent> {
  protected override isolated(
    _trx: ControlledTransaction<RegistrySchema>,
    _name: string,
    task: (trx: Transaction<RegistrySchema>) => Promise<unknown>,
  ): Promise<Outcome> {
    return settle(() => task(_trx));
  }
}

class CarelessGroupStore extends KyselyRegistryStore {
  constructor(db: Kysely<RegistrySchema>) {
    super(db, translateSqliteError);
    this.group = new CarelessGroup(db, async () => {}, writeEvents);
  }
}

/** Reads whether the token is spendable, then spends it: two consumers can both pass the read. */
class ReadThenWriteStore extends KyselyRegistryStore {
  constructor(private readonly plain: Kysely<RegistrySchema>) {
    super(plain, translateSqliteError);
  }

  override async consumeToken(hash: Uint8Array, when: string): Promise<EnrollmentToken> {
    const row = await this.plain
      .selectFrom("enrollment_tokens")
      .selectAll()
      .where("hash", "=", hash)
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= when) throw tokenRefused();
    await this.plain
      .updateTable("enrollment_tokens")
      .set({ used_at: when })
      .where("hash", "=", hash)
      .execute();
    return { hash, label: row.label, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: when };
  }
}

/** Answers every page whole: the limit is neither kept nor checked. */
class UnlimitedPagesStore extends KyselyRegistryStore {
  override devices(query: DeviceQuery = {}): Promise<Device[]> {
    return super.devices({ ...query, limit: undefined });
  }
}

/** Renews by writing the new certificate over whatever the device is: revoked ones too. */
class UnconditionalRenewStore extends KyselyRegistryStore {
  constructor(private readonly plain: Kysely<RegistrySchema>) {
    super(plain, translateSqliteError);
  }

  override async renew(r: Renewal): Promise<RegistryEvent> {
    await insertCertificate(this.plain, r.handle, r.certificate);
    await this.plain
      .updateTable("devices")
      .set({ certificate_serial: r.certificate.serial })
      .where("handle", "=", r.handle)
      .execute();
    return appendEvent(this.plain, "renewed", r.handle, { serial: r.certificate.serial }, r.at);
  }
}

/** Takes every event of the devices asked for as a flag: enrollments and revocations too. */
class AnyEventFlagsStore extends KyselyRegistryStore {
  constructor(private readonly plain: Kysely<RegistrySchema>) {
    super(plain, translateSqliteError);
  }

  override async flags(handles: readonly string[], limit: number): Promise<RegistryEvent[]> {
    const rows = await this.plain
      .selectFrom("events")
      .select("sequence")
      .where("handle", "in", handles)
      .orderBy("sequence", "desc")
      .limit(limit)
      .execute();
    const events = await this.eventsSince(0);
    return events.filter((event) => rows.some((row) => row.sequence === event.sequence));
  }
}

/** Imports device by device, each its own enrollment, and passes over any handle it knows. */
class OneByOneImportStore extends KyselyRegistryStore {
  override async importDevices(batch: DeviceImport): Promise<ImportOutcome> {
    let imported = 0;
    for (const device of batch.devices) {
      if (await this.device(device.handle)) continue;
      await this.enroll({ ...device, certificate: device.certificate as NewCertificate, at: batch.at });
      imported++;
    }
    return { imported, skipped: batch.devices.length - imported };
  }
}

/** Stores an integrator's pass wherever it says it starts: a second integrator's pass goes in too. */
class UncheckedLogStore extends KyselyRegistryStore {
  constructor(private readonly plain: Kysely<RegistrySchema>) {
    super(plain, translateSqliteError);
  }

  override async appendLog({ start, hashes, checkpoint }: LogAppend): Promise<void> {
    if (hashes.length > 0) {
      await this.plain
        .insertInto("log_hashes")
        .values({ start, hashes: Buffer.concat(hashes) })
        .onConflict((conflict) => conflict.doNothing())
        .execute();
    }
    await this.plain
      .insertInto("log_checkpoints")
      .values({ size: checkpoint.size, root: checkpoint.root, note: checkpoint.note, at: checkpoint.at })
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
}

describe("the conformance suite fails drivers known to be wrong", () => {
  test("a driver that stores a pass of the log from any size", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new UncheckedLogStore(plainKysely(path)));
    await assert.rejects(
      CHECKS[
        "the log's passes: hashes and a checkpoint stored together, read back by leaf; a pass from another size is refused and writes nothing"
      ]?.(fixture, t) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that reads any event of a chain as a flag", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new AnyEventFlagsStore(plainKysely(path)));
    await assert.rejects(
      CHECKS[
        "a flag changes no device; flags(chain) reads the newest flags on any of its devices, oldest first, and no other event"
      ]?.(fixture, t) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that ignores a page's limit", async (t) => {
    const fixture = await sqliteFixture(
      t,
      async (path) => new UnlimitedPagesStore(plainKysely(path), translateSqliteError),
    );
    await assert.rejects(
      CHECKS["devices come in keyset pages: in handle order, after a handle, within the limit, by status"]?.(
        fixture,
        t,
      ) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that renews a device whatever its status", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new UnconditionalRenewStore(plainKysely(path)));
    await assert.rejects(
      CHECKS[
        "a renewal of a revoked, superseded or unknown device, or of a certificate no longer current, is refused and changes nothing"
      ]?.(fixture, t) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that writes a device and its event in separate transactions", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new NoTransactionStore(plainKysely(path)));
    await assert.rejects(
      CHECKS["a device change and its event commit together or not at all"]?.(fixture, t) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that groups changes without a savepoint each", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new CarelessGroupStore(plainKysely(path)));
    await assert.rejects(
      CHECKS[
        "changes asked at once are each all-or-nothing: a refused one leaves no trace, the others commit with their events, one successor wins"
      ]?.(fixture, t) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that imports a batch device by device, passing over a known handle whatever its key", async (t) => {
    const fixture = await sqliteFixture(
      t,
      async (path) => new OneByOneImportStore(plainKysely(path), translateSqliteError),
    );
    await assert.rejects(
      CHECKS["an import batch with a handle the registry holds with another key is refused whole"]?.(
        fixture,
        t,
      ) as Promise<void>,
      assert.AssertionError,
    );
  });

  test("a driver that reads a token, then spends it", async (t) => {
    const fixture = await sqliteFixture(t, async (path) => new ReadThenWriteStore(plainKysely(path)));
    await assert.rejects(
      CHECKS["a token is spent once: of two consumers on two connections, one wins"]?.(
        fixture,
        t,
      ) as Promise<void>,
      /both consumers spent one token/,
    );
  });
});

describe("the SQLite file", () => {
  test("is 0600 with its WAL and shared-memory files, in WAL mode, and its migrations run once", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const path = join(dir, "registry.db");
    const store = await openSqliteRegistry(path, { create: true });
    await store.enroll(newEnrollment());
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal(statSync(file).mode & 0o777, 0o600, file);
    }
    await store.close();
    await (await openSqliteRegistry(path)).close();
    const raw = new Database(path, { readonly: true });
    t.after(() => raw.close());
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    const migrations = raw.prepare("SELECT name FROM registry_migrations").all();
    assert.deepEqual(migrations, [
      { name: "0001-initial" },
      { name: "0002-flags-index" },
      { name: "0003-identity-log" },
      { name: "0004-successions-index" },
      { name: "0005-listed-devices" },
      { name: "0006-listed-enrollments-index" },
      { name: "0007-log-length" },
    ]);
    assert.equal((raw.prepare("SELECT count(*) AS n FROM devices").get() as { n: number }).n, 1);
  });

  test("its schema is byte for byte what the released migrations made", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const path = join(dir, "registry.db");
    await (await openSqliteRegistry(path, { create: true })).close();
    const raw = new Database(path, { readonly: true });
    t.after(() => raw.close());
    // Captured from a database the released 0001 and 0002 made: the SQL SQLite keeps of each
    // table and index. A later migration may add objects, and columns at a table's end (SQLite
    // appends them to its SQL); what was released stays as it was.
    const released = JSON.parse(
      readFileSync(new URL("./sqlite-schema-released.json", import.meta.url), "utf8"),
    ) as { type: string; name: string; tbl_name: string; sql: string | null }[];
    const added: Readonly<Record<string, string>> = { events: ', "leaf" integer default 0 not null' };
    // The one exception, 0005's (listed devices): the device table made again, a serial may be
    // null and a status `listed`, with two checks more; nothing else of it changed.
    const listed = (sql: string) =>
      sql
        .replace('"certificate_serial" text not null unique', '"certificate_serial" text unique')
        .replace("status in ('active',", "status in ('listed', 'active',")
        .replace(
          /\)$/,
          ", constraint \"devices_listed\" check (status <> 'listed' or certificate_serial is null), constraint \"devices_certified\" check (certificate_serial is not null or status in ('listed', 'revoked')))",
        );
    const now = raw.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name = ?");
    for (const object of released) {
      const columns = added[object.name];
      const grown = columns && object.sql ? `${object.sql.slice(0, -1)}${columns})` : object.sql;
      const sql = object.name === "devices" && grown ? listed(grown) : grown;
      assert.deepEqual(now.get(object.name), { ...object, sql }, object.name);
    }
    assert.ok(
      released.some((object) => object.sql?.includes('"sequence" integer primary key autoincrement')),
    );
    assert.ok(released.some((object) => object.sql?.includes('"public_key" blob not null')));
  });

  test("a chain's flags are read through the index of flags, not a scan of the log; a database made before it gets it", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const path = join(dir, "registry.db");
    const store = await openSqliteRegistry(path, { create: true });
    const enrollment = newEnrollment();
    await store.enroll(enrollment);
    await store.close();
    // A registry from before the index: its migration not run (nor the later ones).
    const raw = new Database(path);
    undoIdentityLog(raw);
    raw.exec("DROP INDEX events_flags");
    raw.prepare("DELETE FROM registry_migrations WHERE name = ?").run("0002-flags-index");
    raw.close();
    // The query the driver makes, as kysely hands it to SQLite.
    const queries: CompiledQuery[] = [];
    const logged = new Kysely<RegistrySchema>({
      dialect: new SqliteDialect({ database: new Database(path) }),
      log: (event) => {
        if (event.level === "query") queries.push(event.query);
      },
    });
    await new KyselyRegistryStore(logged, translateSqliteError).flags([enrollment.handle], 101);
    await logged.destroy();
    const query = queries.at(-1) as CompiledQuery;
    // Asked on a new connection each time: one that knew the schema before may plan with it.
    const plan = () => {
      const reader = new Database(path, { readonly: true });
      try {
        const steps = reader.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.parameters);
        return (steps as { detail: string }[]).map((step) => step.detail).join("; ");
      } finally {
        reader.close();
      }
    };
    assert.match(plan(), /SCAN events/, "without the index the whole log is read");
    await (await openSqliteRegistry(path)).close();
    assert.match(plan(), /SEARCH events USING INDEX events_flags \(handle=\?\)/);
    assert.doesNotMatch(plan(), /SCAN events/);
  });

  test("lookups, keyset pages and events since N are read through an index at any size, never a scan or a sort", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const path = join(dir, "registry.db");
    await (await openSqliteRegistry(path, { create: true })).close();
    // The queries the driver makes, as kysely hands them to SQLite.
    const queries: CompiledQuery[] = [];
    const logged = new Kysely<RegistrySchema>({
      dialect: new SqliteDialect({ database: new Database(path) }),
      log: (event) => {
        if (event.level === "query") queries.push(event.query);
      },
    });
    const store = new KyselyRegistryStore(logged, translateSqliteError);
    const [device] = newImported(1) as [CertifiedImport];
    await store.importDevices({ devices: [device], at: at(0) });
    queries.length = 0;
    await store.device(device.handle);
    await store.certificate(device.certificate.serial);
    await store.devices({ after: device.handle, limit: 1000 });
    await store.devices({ status: "active", after: device.handle, limit: 1000 });
    await store.eventsSince(1, 1000);
    await store.succession(device.handle);
    await store.listedEnrollment(device.handle);
    await logged.destroy();
    const plans = () => {
      const reader = new Database(path, { readonly: true });
      try {
        return queries.map((query) =>
          (reader.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.parameters) as { detail: string }[])
            .map((step) => step.detail)
            .join("; "),
        );
      } finally {
        reader.close();
      }
    };
    // Each read's plan: one index search (a lookup or a range from the keyset), no scan, no sort.
    const expected = [
      /^SEARCH devices USING INDEX sqlite_autoindex_devices_1 \(handle=\?\)$/,
      /^SEARCH certificates USING INDEX sqlite_autoindex_certificates_1 \(serial=\?\)$/,
      /^SEARCH devices USING INDEX sqlite_autoindex_devices_1 \(handle>\?\)$/,
      /^SEARCH devices USING INDEX devices_by_status \(status=\? AND handle>\?\)$/,
      /^SEARCH events USING INTEGER PRIMARY KEY \(rowid>\?\)$/,
      /^SEARCH events USING INDEX events_successions \(handle=\?\)$/,
      /^SEARCH events USING INDEX events_listed_enrollments \(handle=\?\)$/,
    ];
    const indexed = (found: readonly string[]) => {
      assert.equal(found.length, expected.length);
      for (const [i, plan] of found.entries()) assert.match(plan, expected[i] as RegExp);
    };
    indexed(plans());
    // Without the index of (status, handle), a page of one status filters the whole key range: refused.
    const raw = new Database(path);
    raw.exec("DROP INDEX devices_by_status");
    raw.close();
    assert.throws(() => indexed(plans()), /devices_1 \(handle>\?\)/);
  });

  test("a database made before the log gets it: its events become leaves 0, 1, 2… in the order they happened", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    const path = join(dir, "registry.db");
    const store = await openSqliteRegistry(path, { create: true });
    const handles: string[] = [];
    for (let i = 0; i < 6; i++) {
      const enrollment = newEnrollment({ at: at(i) });
      handles.push(enrollment.handle);
      await store.enroll(enrollment);
    }
    await store.close();
    // A registry from before the log, whose sequence has a gap (the leaves must not).
    const raw = new Database(path);
    undoIdentityLog(raw);
    raw.exec("DELETE FROM events WHERE sequence = 3");
    raw.close();
    const migrated = await openSqliteRegistry(path);
    t.after(() => migrated.close());
    const events = await migrated.eventsSince(0);
    assert.deepEqual(
      events.map((event) => [event.sequence, event.leaf]),
      [
        [1, 0],
        [2, 1],
        [4, 2],
        [5, 3],
        [6, 4],
      ],
    );
    assert.equal((await migrated.enroll(newEnrollment({ at: at(9) }))).leaf, 5);
    assert.equal(await migrated.logSize(), 6);
    // A row written without its leaf takes 0, which the log already has: refused, never a hole.
    const careless = plainKysely(path);
    t.after(() => careless.destroy());
    await assert.rejects(
      careless
        .insertInto("events")
        .values({ type: "enrolled", handle: handles[0] as string, data: "{}", at: at(10) } as never)
        .execute(),
      /UNIQUE constraint failed: events.leaf/,
    );
  });

  test("the database holds its invariants itself: a second use of a token or a superseded device without a successor fails", async (t) => {
    const fixture = await sqliteFixture(t);
    const store = await fixture.open();
    const enrollment = newEnrollment();
    await store.enroll(enrollment);
    await store.close();
    const raw = plainKysely(fixture.path);
    t.after(() => raw.destroy());
    await assert.rejects(
      raw
        .updateTable("devices")
        .set({ status: "superseded" })
        .where("handle", "=", enrollment.handle)
        .execute(),
      /CHECK constraint failed: devices_successor/,
    );
    await assert.rejects(
      raw.updateTable("certificates").set({ status: "revoked" }).execute(),
      /CHECK constraint failed: certificates_revoked/,
    );
    await assert.rejects(
      raw
        .insertInto("events")
        .values({ type: "enrolled", handle: "0".repeat(32), data: "{}", at: at(0), leaf: 1 })
        .execute(),
      /FOREIGN KEY constraint failed/,
    );
  });

  test("a missing file, a file that is not SQLite, another application's database and a newer schema are refused", async (t) => {
    const { dir } = tempDir(t, "reid-registry-");
    await refusedWith(openSqliteRegistry(join(dir, "absent.db")), "no-registry", ExitCode.state);

    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a), { mode: 0o600 });
    await refusedWith(openSqliteRegistry(garbage), "registry-corrupt", ExitCode.storage);

    const foreign = join(dir, "foreign.db");
    const other = new Database(foreign);
    other.exec("CREATE TABLE notes (text TEXT)");
    other.close();
    await refusedWith(openSqliteRegistry(foreign), "registry-corrupt", ExitCode.storage);

    const newer = join(dir, "newer.db");
    await (await openSqliteRegistry(newer, { create: true })).close();
    const raw = new Database(newer);
    raw.prepare("INSERT INTO registry_migrations (name, timestamp) VALUES (?, ?)").run("9999-future", at(0));
    raw.close();
    await refusedWith(openSqliteRegistry(newer), "registry-corrupt", ExitCode.storage);
  });
});

/** What migration 0003 made, undone: the database as a registry from before the identity log left it. */
/** A registry from before 0003 (and so before 0004 to 0007): 0003, 0004, 0006 and 0007 undone, 0005 not recorded (it runs again). */
function undoIdentityLog(raw: Database.Database): void {
  raw.exec(`DROP TABLE log_length; DROP INDEX events_listed_enrollments; DROP INDEX events_successions; DROP INDEX events_leaf; ALTER TABLE events DROP COLUMN leaf;
    DROP TABLE log_checkpoints; DROP TABLE log_hashes;
    DELETE FROM registry_migrations WHERE name IN ('0003-identity-log', '0004-successions-index', '0005-listed-devices', '0006-listed-enrollments-index', '0007-log-length')`);
}

async function refusedWith(promise: Promise<unknown>, code: string, exitCode: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ReidError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.exitCode, exitCode);
    return true;
  });
}
