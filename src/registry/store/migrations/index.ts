import type { Migration, MigrationProvider } from "kysely";
import * as initial from "./0001-initial.js";
import * as flagsIndex from "./0002-flags-index.js";
import * as identityLog from "./0003-identity-log.js";
import * as successionsIndex from "./0004-successions-index.js";
import * as listedDevices from "./0005-listed-devices.js";
import * as listedEnrollmentsIndex from "./0006-listed-enrollments-index.js";
import * as logLength from "./0007-log-length.js";

/**
 * The registry's migrations, in order, compiled into reid (no directory read at run time, so the
 * bundle carries them). A migration is never edited once released: a change is a new one.
 */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "0001-initial": initial,
  "0002-flags-index": flagsIndex,
  "0003-identity-log": identityLog,
  "0004-successions-index": successionsIndex,
  "0005-listed-devices": listedDevices,
  "0006-listed-enrollments-index": listedEnrollmentsIndex,
  "0007-log-length": logLength,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};

/** The name of the newest migration: a database that names one beyond it is from a newer reid. */
export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1) as string;
