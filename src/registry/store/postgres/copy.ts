import { CompiledQuery } from "kysely";
import type pg from "pg";
import type { BulkInsert } from "../kysely-store.js";

/**
 * `COPY TABLE (COLUMNS) FROM STDIN`, its rows the one parameter: how the store's bulk insert reaches
 * the pool (prepared.ts), which sends it through pg's copy protocol, not as a query.
 */
const COPY = /^copy [a-z_]+ \([a-z_, ]+\) from stdin$/;

/**
 * An import's rows through PostgreSQL's COPY: no statement to parse, plan or bind, one message of
 * rows in COPY's text format (docs/spec.md §10.3), in the transaction of the batch.
 */
export const copyInsert: BulkInsert = async (trx, table, columns, rows) => {
  const text = rows.map((row) => `${row.map(copyValue).join("\t")}\n`).join("");
  await trx.executeQuery(
    CompiledQuery.raw(`copy ${table} (${columns.join(", ")}) from stdin`, [Buffer.from(text, "utf8")]),
  );
};

export function isCopy(text: unknown): text is string {
  return typeof text === "string" && COPY.test(text);
}

/**
 * A value in COPY's text format: NULL is \N; bytes are bytea's hex form; in text, a backslash, tab,
 * newline and carriage return are escaped (the registry's values hold none of the last three, but a
 * label's JSON may hold a backslash).
 */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (value instanceof Uint8Array)
    return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  return String(value).replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string);
}

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** What kysely's PostgreSQL driver reads of a query's result. */
interface Result {
  readonly command: string;
  readonly rowCount: number;
  readonly rows: never[];
}

/**
 * Runs a COPY … FROM STDIN on `client` with `data` as the rows: pg hands a query object that has
 * `submit` the protocol's messages (its Client calls these hooks), as pg-copy-streams does.
 */
export function copyIn(client: pg.PoolClient, text: string, data: Buffer): Promise<Result> {
  return new Promise((resolve, reject) => {
    let rowCount = 0;
    let failed: unknown = null;
    let settled = false;
    const settle = (error: unknown) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve({ command: "COPY", rowCount, rows: [] });
    };
    const none = () => {};
    const submittable = {
      submit(connection: Connection) {
        connection.query(text);
      },
      handleCopyInResponse(connection: Connection) {
        connection.sendCopyFromChunk(data);
        connection.endCopyFrom();
      },
      handleCommandComplete(message: { text?: string }) {
        rowCount = Number(/^COPY (\d+)$/.exec(message.text ?? "")?.[1] ?? 0);
      },
      handleError(error: unknown) {
        failed ??= error;
        settle(failed);
      },
      handleReadyForQuery() {
        settle(failed);
      },
      handleRowDescription: none,
      handleDataRow: none,
      handleEmptyQuery: none,
      handlePortalSuspended: none,
      handleCopyData: none,
    };
    (client as unknown as { query(submittable: object): void }).query(submittable);
  });
}

/** The part of pg's connection a COPY speaks to. */
interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}
