import { UsageError } from "../../../errors.js";

/** A PostgreSQL database as `--db` names it, without a secret (docs/spec.md §10.3). */
export interface PostgresTarget {
  /** The URL as given: `postgres://` or `postgresql://`, no password in it. */
  readonly url: string;
  /** `HOST:PORT`, for messages: never the user, the database's options or a secret. */
  readonly where: string;
}

/**
 * Reads a `--db` URL. A password in it (user info or a `password` parameter) is refused before
 * anything connects: argv is readable by every user of the machine (ps, /proc). The password, when
 * the server asks for one, comes from ~/.pgpass or the file PGPASSFILE names (password.ts).
 */
export function postgresTarget(text: string, option = "--db"): PostgresTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${option} takes a URL postgres://[USER@]HOST[:PORT]/DATABASE`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UsageError(`${option} takes a URL postgres://[USER@]HOST[:PORT]/DATABASE`);
  }
  if (url.password !== "" || [...url.searchParams.keys()].some((key) => key.toLowerCase() === "password")) {
    throw new UsageError(
      `${option} carries a password: leave it out of the URL and put it in ~/.pgpass (0600) or the file PGPASSFILE names`,
    );
  }
  // A socket directory in ?host= is where the server is when the URL names none.
  const host = url.hostname || url.searchParams.get("host") || "localhost";
  return { url: text, where: `${host}:${url.port || "5432"}` };
}

/** True for what `--db` takes: a PostgreSQL URL (anything else there is refused as one). */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:/i.test(text);
}
