import { type ColumnDefinitionBuilder, type Kysely, PostgresAdapter } from "kysely";

/**
 * The few column types that differ between the registry's databases, taken from the dialect a
 * migration runs on, so one set of migrations serves both (docs/spec.md §10.3). SQLite's are the
 * words the first release wrote, so its schema stays byte for byte what that release made.
 */
export interface ColumnTypes {
  /** Bytes: a key, a certificate's DER, a hash. */
  readonly bytes: "blob" | "bytea";
  /** An integer key that only grows and is never handed out twice. */
  readonly sequence: "integer" | "bigint";
  /** What makes `sequence` a key the database numbers itself. */
  readonly numbered: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
}

const SQLITE: ColumnTypes = {
  bytes: "blob",
  sequence: "integer",
  // AUTOINCREMENT: a number is never reused, even after the newest row is gone.
  numbered: (column) => column.primaryKey().autoIncrement(),
};

const POSTGRES: ColumnTypes = {
  bytes: "bytea",
  sequence: "bigint",
  // An identity column's sequence never goes back; `always`: no insert names its own number.
  numbered: (column) => column.primaryKey().generatedAlwaysAsIdentity(),
};

export function columnTypes(db: Kysely<unknown>): ColumnTypes {
  return db.getExecutor().adapter instanceof PostgresAdapter ? POSTGRES : SQLITE;
}
