import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describeOsError, UsageError } from "../errors.js";
import {
  noRegistry,
  registryCorrupt,
  registryFailure,
  registryPermissions,
  sqliteNoReplica,
} from "./registry-errors.js";
import { type PostgresTarget, postgresTarget } from "./store/postgres/url.js";
import type { RegistryStore } from "./store/store.js";

/** The files of a registry directory (docs/spec.md §10.1); every one 0600, the directory 0700. */
export const REGISTRY_FILES = {
  /** Written last when the registry is made: its presence says the directory is a registry. */
  config: "registry.json",
  database: "registry.db",
  caCertificate: "ca.pem",
  caKey: "ca.key",
  serverCertificate: "server.pem",
  serverKey: "server.key",
  statementKey: "statements.key",
  operatorToken: "operator.token",
} as const;

export const REGISTRY_FORMAT = "reid-registry";
export const REGISTRY_VERSION = 1;

export interface RegistryConfig {
  readonly format: typeof REGISTRY_FORMAT;
  readonly version: typeof REGISTRY_VERSION;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly caFingerprint: string;
  readonly createdAt: string;
  /**
   * The PostgreSQL database's URL (no password in it) when the registry is kept there; absent, the
   * SQLite database in the directory. Optional in version 1, so a registry made before reads as it was.
   */
  readonly database?: string;
}

/** Where a command's database is when it is not the one registry.json names (docs/spec.md §10.6). */
export interface DatabaseChoice {
  /** --db: this PostgreSQL database instead. */
  readonly db?: PostgresTarget | undefined;
  /** --db-read: a replica of it, for a command that only reads; it is never written. */
  readonly dbRead?: PostgresTarget | undefined;
}

/** --dir: required, resolved to an absolute path. */
export function registryDirectory(text: string | undefined): string {
  if (text === undefined || text === "") throw new UsageError("'reid registry' needs --dir DIR");
  return resolve(text);
}

/**
 * Opens the registry at `directory`: it must be a registry's (its registry.json), private to its
 * owner, and its database must open at the newest schema: `choice`'s (its replica, read-only, for
 * `--db-read`), else the PostgreSQL database registry.json names, else the SQLite file in the
 * directory.
 */
export async function openRegistry(
  directory: string,
  choice: DatabaseChoice = {},
): Promise<{ config: RegistryConfig; store: RegistryStore }> {
  const { config, postgres } = registryAt(directory, choice);
  if (choice.dbRead !== undefined) return { config, store: await openReplica(choice.dbRead) };
  return { config, store: await openDatabase(directory, postgres) };
}

/**
 * `registry serve --db-read`: the registry's database, for every write and every read that follows
 * one, and `choice.dbRead`'s replica of it (none without it), for the routes that only read.
 */
export async function openServedRegistry(
  directory: string,
  choice: DatabaseChoice = {},
): Promise<{ config: RegistryConfig; store: RegistryStore; reads?: RegistryStore }> {
  const { config, postgres } = registryAt(directory, choice);
  const store = await openDatabase(directory, postgres);
  if (choice.dbRead === undefined) return { config, store };
  try {
    return { config, store, reads: await openReplica(choice.dbRead) };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * The registry's configuration and its PostgreSQL database (none: SQLite). `--db-read` on a
 * registry kept in SQLite is refused: SQLite has no streaming replica to read.
 */
function registryAt(
  directory: string,
  choice: DatabaseChoice,
): { config: RegistryConfig; postgres: PostgresTarget | undefined } {
  checkPrivateDirectory(directory);
  const config = readConfig(directory);
  // Checked even when --db names another: a registry.json that names a bad one is damaged.
  const configured =
    config.database === undefined
      ? undefined
      : configuredDatabase(config, join(directory, REGISTRY_FILES.config));
  const postgres = choice.db ?? configured;
  if (choice.dbRead !== undefined && postgres === undefined) {
    throw sqliteNoReplica(
      `the registry at ${directory} is kept in SQLite, which has no replica: --db-read reads a replica of a registry on PostgreSQL`,
    );
  }
  return { config, postgres };
}

async function openReplica(target: PostgresTarget): Promise<RegistryStore> {
  const { openPostgresRegistry } = await import("./store/postgres/open.js");
  return openPostgresRegistry(target, { readOnly: true });
}

async function openDatabase(directory: string, postgres: PostgresTarget | undefined): Promise<RegistryStore> {
  if (postgres !== undefined) {
    const { openPostgresRegistry } = await import("./store/postgres/open.js");
    return openPostgresRegistry(postgres);
  }
  const { openSqliteRegistry } = await import("./store/sqlite/open.js");
  return openSqliteRegistry(join(directory, REGISTRY_FILES.database));
}

function configuredDatabase(config: RegistryConfig, path: string): PostgresTarget {
  try {
    return postgresTarget(String(config.database));
  } catch {
    throw registryCorrupt(`${path} names no PostgreSQL database a registry can use`);
  }
}

function checkPrivateDirectory(directory: string): void {
  let mode: number;
  try {
    const stat = statSync(directory);
    if (!stat.isDirectory()) throw noRegistry(`${directory} is not a registry directory`);
    mode = stat.mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw noRegistry(`no registry at ${directory} (make one with 'reid registry init --dir ${directory}')`);
    }
    if ((error as NodeJS.ErrnoException).code) {
      throw registryFailure(`cannot read ${directory}: ${describeOsError(error)}`);
    }
    throw error;
  }
  if ((mode & 0o077) !== 0) {
    throw registryPermissions(`${directory} is open to other users: chmod 700 ${directory}`);
  }
}

function readConfig(directory: string): RegistryConfig {
  const path = join(directory, REGISTRY_FILES.config);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw noRegistry(`no registry at ${directory} (no ${REGISTRY_FILES.config})`);
    }
    throw registryFailure(`cannot read ${path}: ${describeOsError(error)}`);
  }
  let config: Partial<RegistryConfig>;
  try {
    config = JSON.parse(text) as Partial<RegistryConfig>;
  } catch {
    throw registryCorrupt(`${path} is not JSON`);
  }
  if (config?.format !== REGISTRY_FORMAT || config.version !== REGISTRY_VERSION) {
    throw registryCorrupt(`${path} is not a version ${REGISTRY_VERSION} reid registry`);
  }
  return config as RegistryConfig;
}
