import type { DatabaseChoice } from "../../../registry/directory.js";
import { postgresTarget } from "../../../registry/store/postgres/url.js";
import type { RegistryArguments } from "./action.js";

/** The options that name a PostgreSQL database beside --dir (docs/spec.md §10.6). */
export const DATABASE_OPTIONS = ["db"] as const;
/** And for a command that only reads: a replica. */
export const READ_DATABASE_OPTIONS = ["db", "db-read"] as const;

/** --db and --db-read, each checked (a URL of PostgreSQL, no password in it) before anything opens. */
export function databaseChoice(args: RegistryArguments): DatabaseChoice {
  const [db, dbRead] = [args.text("db"), args.text("db-read")];
  return {
    db: db === undefined ? undefined : postgresTarget(db, "--db"),
    dbRead: dbRead === undefined ? undefined : postgresTarget(dbRead, "--db-read"),
  };
}
