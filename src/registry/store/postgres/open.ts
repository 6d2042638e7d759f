import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { noRegistry, registryCorrupt, registryExists, registryFailure } from "../../registry-errors.js";
import { type DriverHooks, KyselyRegistryStore } from "../kysely-store.js";
import { LATEST_MIGRATION, migrationProvider } from "../migrations/index.js";
import { MIGRATION_TABLE, migrateToLatest } from "../migrations/migrate.js";
import type { RegistrySchema } from "../schema.js";
import type { RegistryStore } from "../store.js";
import { poolConfig } from "./connection.js";
import { copyInsert } from "./copy.js";
import { enrollAndCommit, enrollTogether } from "./enroll-together.js";
import { postgresErrors } from "./errors.js";
import { preparedPool } from "./prepared.js";
import { recordEvents } from "./record-events.js";
import type { PostgresTarget } from "./url.js";

/**
 * The identity log's lease (§10.12): a session lock, held by one node's connection of its own for
 * as long as that connection lives, so one node at a time integrates and another takes over when
 * it goes.
 */
const LOG_LEASE_LOCK = [0x72656964, 2] as const;
/**
 * `registry init`'s claim on a database (a session lock, 3): held from the check that it holds no
 * registry until its migrations have made one, so of two inits at once the second finds the
 * first's registry and is refused, instead of both making one.
 */
const INIT_LOCK = [0x72656964, 3] as const;
/** How long an init waits for another's to finish making its schema (a few statements). */
const INIT_WAIT_MS = 60_000;

export interface PostgresOptions {
  /** `registry init`: the database must hold no registry yet, and gets one. */
  readonly create?: boolean;
  /**
   * Reads only (a streaming replica, `--db-read`): migrations are not run but checked, and every
   * transaction is read-only, so nothing is ever written through it.
   */
  readonly readOnly?: boolean;
}

/**
 * Opens the registry's PostgreSQL database (docs/spec.md §10.3): a pool of pg connections under
 * kysely's PostgreSQL dialect, brought to the newest migration (kysely's Migrator runs them under
 * an advisory lock, so nodes opening it at once run each once). PostgreSQL's own synchronous commit
 * makes a committed change durable before it is answered; several nodes may open one database.
 */
export async function openPostgresRegistry(
  target: PostgresTarget,
  options: PostgresOptions = {},
): Promise<RegistryStore> {
  const translate = postgresErrors(target.where);
  const pool = new pg.Pool(poolConfig(target, options.readOnly === true));
  // A connection that breaks while idle in the pool is dropped by pg; the next use connects anew.
  pool.on("error", () => {});
  const db = new Kysely<RegistrySchema>({ dialect: new PostgresDialect({ pool: preparedPool(pool) }) });
  const claim = options.create ? initClaim(target) : null;
  try {
    await claim;
    const made = await hasRegistry(db);
    if (options.create && made) {
      throw registryExists(`the database at ${target.where} already holds a registry`);
    }
    if (!options.create && !made) {
      throw noRegistry(
        `no registry in the database at ${target.where} (make one with 'reid registry init --db URL')`,
      );
    }
    if (options.readOnly) await checkMigrated(db, target.where);
    else await migrateToLatest(db, translate);
  } catch (error) {
    await db.destroy();
    throw translate(error);
  } finally {
    await claim?.then((client) => client.end()).catch(() => {});
  }
  if (options.readOnly) return new KyselyRegistryStore(db, translate, POSTGRES_HOOKS);
  return new PostgresRegistryStore(db, translate, poolConfig(target, false));
}

/** The store over PostgreSQL, with the log's lease on a connection outside the pool. */
class PostgresRegistryStore extends KyselyRegistryStore {
  /** The lease's connection, kept open while the lock is asked for again and while it is held. */
  private connection: Promise<pg.Client> | null = null;
  private held = false;

  constructor(
    db: Kysely<RegistrySchema>,
    translate: (error: unknown) => unknown,
    private readonly config: pg.ClientConfig,
  ) {
    super(db, translate, POSTGRES_HOOKS);
  }

  /**
   * Held until its connection ends; not held, the lock is asked for again on the same connection
   * (another node's ended, the lock is free). Any failure is "not now", never an error: the
   * connection is dropped and the next pass asks anew.
   */
  override async logLease(): Promise<boolean> {
    if (this.held) return true;
    try {
      this.connection ??= this.connect();
      const client = await this.connection;
      const [kind, lease] = LOG_LEASE_LOCK;
      const answer = await client.query<{ held: boolean }>("select pg_try_advisory_lock($1, $2) as held", [
        kind,
        lease,
      ]);
      this.held = answer.rows[0]?.held === true;
    } catch {
      await this.release();
    }
    return this.held;
  }

  private connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    const connection = client.connect().then(() => client);
    // A connection that ends takes the lock with it (PostgreSQL lets go of a session's locks).
    const lost = () => {
      if (this.connection !== connection) return;
      this.held = false;
      this.connection = null;
    };
    client.on("error", lost);
    client.on("end", lost);
    return connection;
  }

  private async release(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    this.held = false;
    await connection?.then((client) => client.end()).catch(() => {});
  }

  override async close(): Promise<void> {
    await this.release();
    await super.close();
  }
}

/**
 * PostgreSQL's ways: an enrollment's rows (or a group's) and a group's events each in one statement
 * (the events under the lock of the log's length), a group of enrollments alone with its events
 * and its commit in one, an import's rows by COPY.
 */
const POSTGRES_HOOKS: DriverHooks = {
  recordEvents,
  enrollTogether,
  enrollAndCommit,
  bulkInsert: copyInsert,
};

/** INIT_LOCK, on a connection of its own: ending it lets the lock go. */
async function initClaim(target: PostgresTarget): Promise<pg.Client> {
  const client = new pg.Client({ ...poolConfig(target, false), lock_timeout: INIT_WAIT_MS });
  client.on("error", () => {});
  await client.connect();
  try {
    const [kind, init] = INIT_LOCK;
    await client.query("select pg_advisory_lock($1, $2)", [kind, init]);
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

async function hasRegistry(db: Kysely<RegistrySchema>): Promise<boolean> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.some((table) => table.name === MIGRATION_TABLE);
}

/** A replica cannot run migrations: its primary's must all be there, and none unknown to this reid. */
async function checkMigrated(db: Kysely<RegistrySchema>, where: string): Promise<void> {
  const known = Object.keys(await migrationProvider.getMigrations());
  const ran = await (db as unknown as Kysely<Record<string, { name: string }>>)
    .selectFrom(MIGRATION_TABLE)
    .select("name")
    .execute();
  const unknown = ran.find((row) => !known.includes(row.name));
  if (unknown)
    throw registryCorrupt(`the registry database at ${where} is from a newer reid (${unknown.name})`);
  if (!ran.some((row) => row.name === LATEST_MIGRATION)) {
    throw registryFailure(`the registry database at ${where} has not run ${LATEST_MIGRATION} yet`);
  }
}
