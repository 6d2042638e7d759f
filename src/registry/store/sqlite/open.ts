import { closeSync, constants, openSync } from "node:fs";
import Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
} from "kysely";
import { describeOsError } from "../../../errors.js";
import { noRegistry, registryBusy, registryCorrupt, registryFailure } from "../../registry-errors.js";
import { KyselyRegistryStore } from "../kysely-store.js";
import { migrateToLatest } from "../migrations/migrate.js";
import type { RegistrySchema } from "../schema.js";
import type { RegistryStore } from "../store.js";
import { WalSync } from "./wal-sync.js";

/** "reid" in ASCII: SQLite's application id marks the file as a registry database (docs/spec.md §10.3). */
const APPLICATION_ID = 0x72656964;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface SqliteOptions {
  /** Make the database (0600) if it is missing; else a missing file is `no-registry`. */
  readonly create?: boolean;
  /** How long a writer waits for another process's write to end before `registry-busy`. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (or makes) the registry's SQLite database at `path` and brings its schema to the newest
 * migration. WAL with synchronous=NORMAL and the WAL fsync'd off the event loop before any write
 * is answered (wal-sync.ts): what is answered is on disk, power loss included; readers never wait
 * for the writer. One connection per process, which kysely's driver hands to
 * one query or transaction at a time, so this process has one writer; other processes wait up to
 * the busy timeout. Foreign keys on. docs/spec.md §10.3.
 */
export async function openSqliteRegistry(path: string, options: SqliteOptions = {}): Promise<RegistryStore> {
  if (options.create) createPrivateFile(path);
  const database = connect(path);
  try {
    configure(database, options.create === true, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  } catch (error) {
    database.close();
    throw translateSqliteError(error);
  }
  const db = new Kysely<RegistrySchema>({
    dialect: new ImmediateSqliteDialect({ database: preparedOnce(database) }),
  });
  const wal = new WalSync(`${path}-wal`);
  try {
    await migrateToLatest(db, translateSqliteError);
    // What the migrations wrote is on disk before anything is built on it.
    await wal.durable();
  } catch (error) {
    wal.close();
    await db.destroy();
    throw error;
  }
  return new SqliteRegistryStore(db, wal);
}

/** The store over SQLite, which also lets go of the WAL's descriptor when it closes. */
class SqliteRegistryStore extends KyselyRegistryStore {
  constructor(
    db: Kysely<RegistrySchema>,
    private readonly wal: WalSync,
  ) {
    super(db, translateSqliteError, { durable: () => wal.durable() });
  }

  override async close(): Promise<void> {
    await super.close();
    this.wal.close();
  }
}

/** SQLite gives its WAL and shared-memory files the mode of the database file: 0600 from the start. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch (error) {
    throw registryFailure(`cannot create the registry database: ${describeOsError(error)}`);
  }
}

function connect(path: string): Database.Database {
  try {
    return new Database(path, { fileMustExist: true });
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_CANTOPEN") {
      throw noRegistry("no registry database here (make one with 'reid registry init')");
    }
    throw translateSqliteError(error);
  }
}

/**
 * PRAGMAs through better-sqlite3's own call: they are per connection and SQLite-only, and kysely
 * has no word for them.
 */
function configure(database: Database.Database, create: boolean, busyTimeoutMs: number): void {
  database.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  if (create) database.pragma(`application_id = ${APPLICATION_ID}`);
  const id = database.pragma("application_id", { simple: true });
  if (id !== APPLICATION_ID)
    throw registryCorrupt("the registry database is a SQLite file of another application");
  const mode = database.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal")
    throw registryFailure(`the registry database cannot use WAL (journal mode ${String(mode)})`);
  // The commit's fsync is WalSync's, on the thread pool (§10.3).
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
}

/** better-sqlite3's errors in reid's codes; anything else (a bug) is left as it is. */
export function translateSqliteError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return error;
  const text = `${(error as Error).message} (${code})`;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return registryBusy(`the registry database is busy: ${text}`);
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return registryCorrupt(`the registry database is damaged: ${text}`);
  }
  if (/^SQLITE_(IOERR|FULL|CANTOPEN|READONLY|PERM|AUTH|NOLFS)/.test(code)) {
    return registryFailure(`the registry database cannot be read or written: ${text}`);
  }
  return error;
}

/** Enough for every statement the store makes; a bound all the same, should one ever vary. */
const MAX_STATEMENTS = 256;

/**
 * The database as kysely's driver sees it, with each statement prepared once: the driver asks
 * better-sqlite3 to prepare every query anew, which costs more than running most of them. The
 * driver hands its one connection to one query at a time, so a statement is never in use twice.
 */
function preparedOnce(database: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (statements.size >= MAX_STATEMENTS) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * Write transactions begin IMMEDIATE: the write lock is taken at BEGIN, where the busy timeout
 * applies, never at a later statement of a transaction that has read (in WAL, that one fails at
 * once with SQLITE_BUSY_SNAPSHOT). Kysely's SQLite driver says only BEGIN, so this one says more.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
  }

  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.config);
  }
}
