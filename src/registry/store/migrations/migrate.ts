import { type Kysely, Migrator } from "kysely";
import { registryCorrupt } from "../../registry-errors.js";
import type { RegistrySchema } from "../schema.js";
import { migrationProvider } from "./index.js";

/** Where kysely's Migrator keeps what ran, in every registry database. */
export const MIGRATION_TABLE = "registry_migrations";

/**
 * Brings the database to the newest migration (docs/spec.md §10.3). Kysely's Migrator runs them
 * under a lock of the database's (on PostgreSQL an advisory lock, then one transaction), so
 * processes opening one database at once run each migration once. `translate` names the driver's
 * errors; one it does not know is a migration this reid does not know: a newer reid's database.
 */
export async function migrateToLatest(
  db: Kysely<RegistrySchema>,
  translate: (error: unknown) => unknown,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: "registry_migrations_lock",
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    const translated = translate(error);
    if (translated !== error) throw translated;
    // Kysely names a migration the database ran that this reid does not know ("missing"): a newer one.
    throw registryCorrupt(`the registry database cannot be brought up to date: ${(error as Error).message}`);
  }
}
