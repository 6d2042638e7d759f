import { createRequire } from "node:module";
import type { PoolConfig } from "pg";
import type { PostgresTarget } from "./url.js";

/** What pgpass reads of a connection to find its line in the password file. */
interface ConnectionInfo {
  readonly host?: string;
  readonly port?: number | string;
  readonly database?: string;
  readonly user?: string;
}

type PgPass = (info: ConnectionInfo, found: (password: string | undefined) => void) => void;
type ParseUrl = (url: string) => Record<string, unknown>;

/** How long a statement waits for a lock (the event order's, a row's) before `registry-busy`. */
const LOCK_WAIT_MS = 5000;
/** How long a connection is waited for, made or from the pool, before `registry-failure`. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Connections per node: a group commit holds one, reads and token writes take the others. */
const POOL_SIZE = 8;

/**
 * pg's settings for the database `target` names. The URL is read by pg's own parser
 * (pg-connection-string) and the password, when the server asks for one, by pg's own pgpass, from
 * ~/.pgpass or the file PGPASSFILE names (one open to group or others is ignored, as libpq does):
 * both are modules pg depends on, loaded from pg's place. Given to pg as a function, the password
 * also keeps pg from reading PGPASSWORD (reid takes no secret from its environment) and from its
 * own deprecated use of pgpass, which warns on every run. `readOnly`: every transaction is.
 */
export function poolConfig(target: PostgresTarget, readOnly: boolean): PoolConfig {
  const pgRequire = createRequire(createRequire(import.meta.url).resolve("pg"));
  const parse = (pgRequire("pg-connection-string") as { parse: ParseUrl }).parse;
  const pgpass = pgRequire("pgpass") as PgPass;
  const { password: _none, ...settings } = parse(target.url);
  const password = (info: ConnectionInfo) =>
    new Promise<string | undefined>((resolve) => pgpass(info, resolve));
  return {
    application_name: "reid registry",
    ...settings,
    password: password as unknown as PoolConfig["password"],
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    lock_timeout: LOCK_WAIT_MS,
    keepAlive: true,
    ...(readOnly ? { options: `${settings.options ?? ""} -c default_transaction_read_only=on`.trim() } : {}),
  };
}
