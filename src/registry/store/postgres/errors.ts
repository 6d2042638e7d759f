import pg from "pg";
import {
  databaseUnreachable,
  registryBusy,
  registryCorrupt,
  registryFailure,
} from "../../registry-errors.js";

/**
 * An ERROR PostgreSQL sent: the statement (and its transaction) ended there, uncommitted, and the
 * connection goes on. A FATAL ends the session, and may come after a commit (a backend told to stop
 * as it answers); a socket's error (EPIPE, ECONNRESET) has no answer at all: after those, what
 * became of the statement is not known, and the connection is done.
 */
export function refusedByPostgres(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === "ERROR";
}

/** pg-pool's message when no connection of a full pool came back within its connection timeout. */
const POOL_EXHAUSTED = "timeout exceeded when trying to connect";

/** Node's codes for a server that cannot be reached at all. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
]);

/**
 * pg's errors in reid's codes (docs/spec.md §10.3), naming the server by `where` (HOST:PORT) and
 * never by its URL: a lock or a serialization that gave way, or no connection free (the server's
 * or the pool's), is `registry-busy` (the client may ask again), a server out of reach (or lost
 * mid-query) is `database-unreachable` (exit 7, as every peer out of reach), one refusing or
 * failing is `registry-failure`, damage is `registry-corrupt`. Anything else (a constraint the store's own statements broke: a bug) is left
 * as it is, as the SQLite driver leaves it.
 */
export function postgresErrors(where: string): (error: unknown) => unknown {
  return (error) => {
    const code = (error as { code?: unknown })?.code;
    const message = (error as Error)?.message ?? "";
    if (typeof code === "string" && UNREACHABLE.has(code)) {
      return databaseUnreachable(`cannot reach PostgreSQL at ${where} (${code})`);
    }
    if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) {
      // pg-pool's, when every connection stayed checked out for the whole wait: reached, and full.
      if (message === POOL_EXHAUSTED) {
        return registryBusy(
          `the registry database at ${where} is busy: no free connection in this process's pool within the wait`,
        );
      }
      // pg's own, without a SQLSTATE: the connection was lost, timed out or asked for a password.
      if (/connect|Connection terminated/i.test(message)) {
        return databaseUnreachable(`cannot reach PostgreSQL at ${where}: ${message}`);
      }
      if (/password/i.test(message)) return noPassword(where);
      return error;
    }
    const said = `${message} (SQLSTATE ${code})`;
    if (code === "53300") {
      return registryBusy(`PostgreSQL at ${where} has too many clients: ${said}`);
    }
    if (["40001", "40P01", "55P03", "57014"].includes(code)) {
      return registryBusy(`the registry database at ${where} is busy: ${said}`);
    }
    if (code === "28P01" || code === "28000") {
      return registryFailure(
        `PostgreSQL at ${where} refused the login: ${said}; its password is read from ~/.pgpass or PGPASSFILE`,
      );
    }
    if (code === "25006") {
      return registryFailure(`the database at ${where} takes no writes (a replica?): ${said}`);
    }
    if (code.startsWith("XX"))
      return registryCorrupt(`the registry database at ${where} is damaged: ${said}`);
    // Connection, resources, the server stopping or starting, the system, configuration, a missing database.
    if (/^(08|53|57|58|F0|3D)/.test(code)) {
      return registryFailure(`the registry database at ${where} cannot be used: ${said}`);
    }
    return error;
  };
}

function noPassword(where: string) {
  return registryFailure(
    `PostgreSQL at ${where} asks for a password and none was found: put it in ~/.pgpass (0600) or the file PGPASSFILE names`,
  );
}
