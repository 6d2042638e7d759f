import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import { copyIn, isCopy } from "./copy.js";

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
      const query = (sql: unknown, parameters?: readonly unknown[]) => {
        if (isCopy(sql)) return copyIn(client, sql, parameters?.[0] as Buffer);
        const name = typeof sql === "string" && PREPARABLE.test(sql) ? nameOf(sql) : undefined;
        if (name === undefined) return client.query(sql as string, parameters as unknown[]);
        return client.query({ name, text: sql as string, values: parameters as unknown[] });
      };
      return {
        query,
        release: (destroy?: boolean) => client.release(destroy),
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}
