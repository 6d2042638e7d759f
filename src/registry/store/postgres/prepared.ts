import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import { copyIn, isCopy } from "./copy.js";
import { refusedByPostgres } from "./errors.js";

/** What can be a named prepared statement: the registry's queries, not BEGIN, SAVEPOINT or DDL. */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
/** Distinct statements named at most: a list's IN (…) of every length must not grow without end. */
const MAX_NAMED = 1000;

/**
 * The pool as kysely's PostgreSQL dialect asks for it, with each of the registry's statements
 * prepared once per connection, as SQLite's are (sqlite/open.ts): pg sends a named statement's
 * Parse the first time a connection runs it and only its Bind and Execute after, so PostgreSQL
 * parses and plans a query once, not on every request. Names are given by text, the same in every
 * connection. A COPY … FROM STDIN (copy.ts, an import's rows) goes through pg's copy protocol.
 */
export function preparedPool(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= MAX_NAMED) return known;
    const name = `reid_${names.size}`;
    names.set(text, name);
    return name;
  };
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      // A connection the server ends while it is lent out (a backend terminated, a server that
      // stops) says so by a query's FATAL and then an 'error' event, which with no listener would
      // end the process. Heard here, the connection is dropped when it comes back, never lent again
      // (the FATAL comes before the socket closes: the pool would still think it sound).
      let lost = false;
      const onLost = () => {
        lost = true;
      };
      client.on("error", onLost);
      const heard = <T>(running: Promise<T>): Promise<T> =>
        running.catch((error: unknown) => {
          if (!refusedByPostgres(error)) lost = true;
          throw error;
        });
      const query = (sql: unknown, parameters?: readonly unknown[]) => {
        if (isCopy(sql)) return heard(copyIn(client, sql, parameters?.[0] as Buffer));
        const name = typeof sql === "string" && PREPARABLE.test(sql) ? nameOf(sql) : undefined;
        if (name === undefined) return heard(client.query(sql as string, parameters as unknown[]));
        return heard(client.query({ name, text: sql as string, values: parameters as unknown[] }));
      };
      return {
        query,
        release: (destroy?: boolean) => {
          client.off("error", onLost);
          client.release(destroy === true || lost ? true : undefined);
        },
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}
