// A real PostgreSQL for the registry's tests: Debian's server binaries, a cluster made with initdb
// in a temporary directory and started with pg_ctl on a free loopback port below 32768 (fsync on,
// trust authentication, its socket in that directory), stopped and removed after. PostgreSQL will
// not run as root: as root, the directory is the `postgres` user's and its programs run as that
// user (runuser). A streaming replica is pg_basebackup -R of a running one, started beside it.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./ports.js";

const run = promisify(execFile);

/** The newest PostgreSQL of /usr/lib/postgresql/VERSION/bin (Debian's; not on PATH). */
function serverBinaries(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((version) => existsSync(join(root, version, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  assert.ok(
    versions[0],
    "no PostgreSQL server in /usr/lib/postgresql (scripts/install-system-deps installs it)",
  );
  return join(root, versions[0], "bin");
}

const asRoot = process.getuid?.() === 0;

/** One of PostgreSQL's programs, as the `postgres` user when the tests run as root. */
async function pgProgram(program: string, args: readonly string[]): Promise<string> {
  const path = join(serverBinaries(), program);
  const [command, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
  try {
    return (await run(command, argv, { timeout: 120_000 })).stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${program} failed: ${stderr ?? ""}${stdout ?? ""}`);
  }
}

export interface Postgres {
  readonly port: number;
  /** The URL of `database` as the superuser `postgres` (trust: no password). */
  url(database?: string): string;
  /** A new, empty database: its URL. */
  newDatabase(): Promise<string>;
  /** Runs SQL on `database` (default `postgres`) on a connection of its own: the rows. */
  query<T = Record<string, unknown>>(text: string, values?: unknown[], database?: string): Promise<T[]>;
  /** Stops the server at once (pg_ctl stop -m immediate: a crash) and removes its directory. */
  stop(): Promise<void>;
}

const running = new Set<string>();
// Never leave a server running: a test process that ends without its after hooks stops them here.
process.once("exit", () => {
  for (const data of running) {
    const pgCtl = join(serverBinaries(), "pg_ctl");
    const argv = ["-D", data, "-m", "immediate", "-w", "stop"];
    spawnSync(asRoot ? "runuser" : pgCtl, asRoot ? ["-u", "postgres", "--", pgCtl, ...argv] : argv);
  }
});

let databases = 0;

/**
 * A new PostgreSQL server; with `primary`, its streaming replica (hot standby, read-only), started
 * once it streams from the primary.
 */
export async function startPostgres(primary?: Postgres): Promise<Postgres> {
  const root = mkdtempSync(join(tmpdir(), "reid-pg-"));
  if (asRoot) chownSync(root, Number(id("-u")), Number(id("-g")));
  const data = join(root, "data");
  try {
    if (primary) {
      await pgProgram("pg_basebackup", [
        ...["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres"],
        ...["-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync"],
      ]);
    } else {
      await pgProgram("initdb", [
        ...["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"],
        ...["--no-sync", "--no-instructions"],
      ]);
    }
    const port = await start(root, data);
    const server = postgresAt(root, data, port);
    if (primary) await streaming(server);
    return server;
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** The uid or gid (`-u`, `-g`) of the `postgres` user. */
function id(which: "-u" | "-g"): string {
  return spawnSync("id", [which, "postgres"], { encoding: "utf8" }).stdout.trim();
}

async function start(root: string, data: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = `-p ${port} -c listen_addresses=127.0.0.1 -k ${root} -c fsync=on`;
    try {
      await pgProgram("pg_ctl", [
        "-D",
        data,
        "-l",
        join(root, "log"),
        "-o",
        settings,
        "-w",
        "-t",
        "60",
        "start",
      ]);
      running.add(data);
      return port;
    } catch (error) {
      // Another process took the port between the probe and the server's bind: another one.
      const log = existsSync(join(root, "log")) ? readFileSync(join(root, "log"), "utf8") : "";
      if (attempt >= 5 || !/could not bind|address already in use/i.test(log)) {
        throw new Error(`${(error as Error).message}\n${log}`);
      }
    }
  }
}

function postgresAt(root: string, data: string, port: number): Postgres {
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const query = async <T>(text: string, values: unknown[] = [], database = "postgres"): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return {
    port,
    url,
    query,
    async newDatabase() {
      const name = `reid_${process.pid}_${++databases}`;
      await query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      if (running.delete(data)) await pgProgram("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A replica is ready once its WAL receiver streams from the primary. */
async function streaming(replica: Postgres): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const rows = await replica.query<{ status: string }>("SELECT status FROM pg_stat_wal_receiver");
    if (rows[0]?.status === "streaming") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail("the replica did not stream from its primary within a minute");
}

/** Waits until `replica` has replayed everything `primary` has written so far. */
export async function caughtUp(primary: Postgres, replica: Postgres): Promise<void> {
  const [{ lsn }] = (await primary.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")) as [
    { lsn: string },
  ];
  for (let i = 0; i < 600; i++) {
    const [row] = await replica.query<{ done: boolean }>(
      "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS done",
      [lsn],
    );
    if (row?.done) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail("the replica did not catch up with its primary within a minute");
}

/** One PostgreSQL for a test file (its before and after hooks are registered where this is called). */
export function postgresForSuite(): { server: Postgres } {
  const suite = {} as { server: Postgres };
  before(async () => {
    suite.server = await startPostgres();
  });
  after(async () => {
    await suite.server?.stop();
  });
  return suite;
}
