import { createPrivateKey, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeOsError, ReidError } from "../errors.js";
import { makeDirectories, replaceFile, syncDirectory } from "../storage/durable-file.js";
import { issueServerCertificate, makeAuthority, makeStatementKey } from "./authority.js";
import { REGISTRY_FILES, REGISTRY_FORMAT, REGISTRY_VERSION, type RegistryConfig } from "./directory.js";
import { logKeyOf } from "./log/log-key.js";
import { registryExists, registryFailure } from "./registry-errors.js";
import type { PostgresTarget } from "./store/postgres/url.js";
import { openSqliteRegistry } from "./store/sqlite/open.js";
import type { RegistryStore } from "./store/store.js";
import { newSecretToken } from "./tokens.js";

export interface InitOptions {
  /** Absolute; it must not exist, or be an empty directory. */
  readonly directory: string;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly now: Date;
  /** A PostgreSQL database to keep the registry in (it must hold none yet); else SQLite in the directory. */
  readonly database?: PostgresTarget | undefined;
}

/** A registry made: its configuration and the verifier key of its identity log (§10.12). */
export interface MadeRegistry {
  readonly config: RegistryConfig;
  readonly logKey: string;
}

/**
 * Makes a registry (docs/spec.md §10.2): built whole in a private directory beside the target,
 * every file and the directory synced, then renamed into place in one step and the parent synced.
 * A crash before the rename leaves the target as it was (the next init sweeps the leftover); after
 * it, a whole registry. Nothing is ever written into a directory that holds anything.
 */
export async function initRegistry(options: InitOptions): Promise<MadeRegistry> {
  const { directory } = options;
  checkTargetIsFree(directory);
  const parent = dirname(directory);
  const staging = join(
    parent,
    `.${basename(directory)}.init-${process.pid}-${randomBytes(8).toString("hex")}`,
  );
  try {
    makeDirectories(parent);
    sweepLeftovers(parent, basename(directory));
    mkdirSync(staging, { mode: 0o700 });
    const made = await build(staging, options);
    syncDirectory(staging);
    commit(staging, directory);
    syncDirectory(parent);
    return made;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (error instanceof ReidError) throw error;
    if ((error as NodeJS.ErrnoException).code) {
      throw registryFailure(`cannot make the registry at ${directory}: ${describeOsError(error)}`);
    }
    throw error;
  }
}

async function build(staging: string, options: InitOptions): Promise<MadeRegistry> {
  const { now } = options;
  const write = (name: string, content: string) =>
    replaceFile(join(staging, name), content, { syncDirectory: false });
  const authority = await makeAuthority(options.name, now);
  write(REGISTRY_FILES.caKey, authority.keyPem);
  write(REGISTRY_FILES.caCertificate, authority.certificatePem);
  const server = await issueServerCertificate(authority, options.hosts, now);
  write(REGISTRY_FILES.serverKey, server.keyPem);
  write(REGISTRY_FILES.serverCertificate, server.certificatePem);
  const statementKey = makeStatementKey();
  write(REGISTRY_FILES.statementKey, statementKey);

  const operator = newSecretToken();
  const store = await newDatabase(staging, options.database);
  try {
    await store.addOperatorToken(operator.hash, now.toISOString());
  } finally {
    // Closing checkpoints SQLite's WAL into the database file, synced (synchronous=FULL).
    await store.close();
  }
  write(REGISTRY_FILES.operatorToken, `${operator.token}\n`);

  const config: RegistryConfig = {
    format: REGISTRY_FORMAT,
    version: REGISTRY_VERSION,
    name: options.name,
    hosts: options.hosts,
    caFingerprint: authority.fingerprint,
    createdAt: now.toISOString(),
    ...(options.database ? { database: options.database.url } : {}),
  };
  write(REGISTRY_FILES.config, `${JSON.stringify(config, null, 2)}\n`);
  return { config, logKey: logKeyOf(createPrivateKey(statementKey), authority.fingerprint).verifierKey };
}

/**
 * The registry's database: the SQLite file in the directory being built, or the schema made in a
 * PostgreSQL database. That one is made before the directory is in place: a failure after it
 * leaves the schema there, and the next init with that database is refused until it is dropped.
 */
async function newDatabase(staging: string, database: PostgresTarget | undefined): Promise<RegistryStore> {
  if (database === undefined) {
    return openSqliteRegistry(join(staging, REGISTRY_FILES.database), { create: true });
  }
  const { openPostgresRegistry } = await import("./store/postgres/open.js");
  return openPostgresRegistry(database, { create: true });
}

/** The target must be absent or an empty directory: anything else is refused before any write. */
function checkTargetIsFree(directory: string): void {
  let entries: string[];
  try {
    if (!statSync(directory).isDirectory()) throw notFree(directory, "is not a directory");
    entries = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    if (error instanceof ReidError) throw error;
    throw registryFailure(`cannot read ${directory}: ${describeOsError(error)}`);
  }
  if (entries.length > 0) throw notFree(directory, "is not empty");
}

function notFree(directory: string, why: string): ReidError {
  return registryExists(`${directory} ${why}: a registry is made in a new or empty directory`);
}

/** rename(2) replaces an empty directory and refuses one that filled up meanwhile. */
function commit(staging: string, directory: string): void {
  try {
    renameSync(staging, directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      throw notFree(directory, "is no longer empty");
    }
    throw error;
  }
}

/** Directories a killed init of this target left behind: their process is gone. */
function sweepLeftovers(parent: string, base: string): void {
  const prefix = `.${base}.init-`;
  for (const entry of readdirSync(parent)) {
    const pid = Number(/^(\d+)-[0-9a-f]{16}$/.exec(entry.slice(prefix.length))?.[1]);
    if (!entry.startsWith(prefix) || !Number.isInteger(pid) || isAlive(pid)) continue;
    rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
