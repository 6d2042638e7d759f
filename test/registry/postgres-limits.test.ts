// The registry's PostgreSQL at its limits (docs/spec.md §10.3): two `reid registry init` processes
// on one database at once make one registry (the other is refused `registry-exists`, exit 3, one
// line), and a database out of connections, the server's (too many clients) or the pool's (all
// of a node's busy), is `registry-busy`, never said to be out of reach.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { ReidError } from "../../src/errors.js";
import { postgresErrors } from "../../src/registry/store/postgres/errors.js";
import { openPostgresRegistry } from "../../src/registry/store/postgres/open.js";
import { postgresTarget } from "../../src/registry/store/postgres/url.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { closedPort } from "../helpers/ports.js";
import { postgresForSuite } from "../helpers/postgres.js";

const suite = postgresForSuite();

describe("registry init --db, two at once", () => {
  let root = "";
  before(() => {
    root = mkdtempSync(join(tmpdir(), "reid-init-race-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("of two processes started together on one database, exactly one makes the registry; the other is exit 3 registry-exists", async () => {
    for (let round = 0; round < 2; round++) {
      const url = await suite.server.newDatabase();
      const dirs = [join(root, `${round}-a`), join(root, `${round}-b`)];
      // kysely's migration lock held meanwhile, so both processes are in the database at once
      // every time, not by chance: one waiting to migrate, the other for its claim (without the
      // claim, the second would find no registry yet unless the first had begun its schema).
      const migrations = new pg.Client({ connectionString: url });
      await migrations.connect();
      await migrations.query(`SELECT pg_advisory_lock(${KYSELY_MIGRATION_LOCK})`);
      let runs: CliResult[];
      try {
        const running = Promise.all(dirs.map((dir) => reid(["registry", "init", "--dir", dir, "--db", url])));
        await bothWaiting();
        await migrations.query(`SELECT pg_advisory_unlock(${KYSELY_MIGRATION_LOCK})`);
        runs = await running;
      } finally {
        await migrations.end();
      }
      const made = runs.filter((run) => run.code === 0);
      assert.equal(made.length, 1, runs.map((run) => `exit ${run.code}: ${run.stderr}`).join("; "));
      const refused = runs.find((run) => run.code !== 0) as CliResult;
      assertOneLineError(refused, 3, /already holds a registry/);
      // Only the winner's directory is there, and the database holds its operator token alone.
      assert.deepEqual(
        dirs.map((dir) => existsSync(dir)),
        runs.map((run) => run.code === 0),
      );
      const tokens = await suite.server.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM operator_tokens",
        [],
        new URL(url).pathname.slice(1),
      );
      assert.equal(tokens[0]?.n, "1");
    }
  });
});

/** The advisory lock kysely's Migrator takes on PostgreSQL (its PostgresAdapter's LOCK_ID). */
const KYSELY_MIGRATION_LOCK = "3853314791062309107";

/** Until two sessions wait for an advisory lock (the migration's, or the other init's claim). */
async function bothWaiting(): Promise<void> {
  for (let tries = 0; ; tries++) {
    const [row] = await suite.server.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    if (row?.n === "2") return;
    assert.ok(tries < 600, "the two inits did not both reach the database within a minute");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a PostgreSQL out of connections", () => {
  test("too many clients for the server (a role's connection limit) is registry-busy, not cannot reach", async () => {
    const url = await suite.server.newDatabase();
    const database = new URL(url).pathname.slice(1);
    const root = mkdtempSync(join(tmpdir(), "reid-limits-"));
    try {
      assert.equal((await reid(["registry", "init", "--dir", join(root, "r"), "--db", url])).code, 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    // A role that may hold one connection: reid's pool of 8 opens more when asked eight things at once.
    await suite.server.query("CREATE ROLE reid_one LOGIN CONNECTION LIMIT 1").catch(() => {});
    await suite.server.query(
      "GRANT ALL ON ALL TABLES IN SCHEMA public TO reid_one; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO reid_one",
      [],
      database,
    );
    const store = await openPostgresRegistry(
      postgresTarget(`postgres://reid_one@127.0.0.1:${suite.server.port}/${database}`),
    );
    try {
      const reads = await Promise.allSettled(Array.from({ length: 8 }, () => store.devices()));
      const failed = reads
        .filter((read) => read.status === "rejected")
        .map((read) => read.reason as ReidError);
      assert.ok(failed.length > 0, "eight connections at once for a role that may hold one");
      for (const error of failed) {
        assert.ok(error instanceof ReidError, String(error));
        assert.equal(error.code, "registry-busy", error.message);
        assert.match(error.message, /too many clients|too many connections/);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${suite.server.port}`));
        assert.doesNotMatch(error.message, /cannot reach/);
      }
    } finally {
      await store.close();
    }
  });

  test("every connection of the pool busy past the wait is registry-busy, not cannot reach", async () => {
    // pg's own pool, as the store has it, with one connection held and a short wait for another.
    const pool = new pg.Pool({ connectionString: suite.server.url(), max: 1, connectionTimeoutMillis: 200 });
    const held = await pool.connect();
    try {
      const waited = await pool.connect().then(
        () => assert.fail("a second connection from a pool of one"),
        (error: unknown) => error,
      );
      const said = postgresErrors(`127.0.0.1:${suite.server.port}`)(waited) as ReidError;
      assert.ok(said instanceof ReidError, String(said));
      assert.equal(said.code, "registry-busy", said.message);
      assert.match(said.message, /no free connection/);
      // A server that is not there at all is still out of reach.
      const port = await closedPort();
      const away = new pg.Pool({
        connectionString: `postgres://x@127.0.0.1:${port}/x`,
        connectionTimeoutMillis: 2000,
      });
      const refused = await away.connect().then(
        () => assert.fail("a connection to a closed port"),
        (error: unknown) => error,
      );
      await away.end();
      assert.equal((postgresErrors(`127.0.0.1:${port}`)(refused) as ReidError).code, "database-unreachable");
    } finally {
      held.release();
      await pool.end();
    }
  });
});
