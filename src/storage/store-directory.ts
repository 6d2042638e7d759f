import { statSync } from "node:fs";
import { describeOsError, StorageError } from "../errors.js";

/** Refuses a store path that is not a directory, or a directory other users can enter; a missing one is fine. */
export function checkStoreDirectory(location: string): void {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(location);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new StorageError(`cannot open store ${location}: ${describeOsError(error)}`);
  }
  if (!stats.isDirectory()) throw new StorageError(`store ${location} is not a directory`);
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
    throw new StorageError(
      `store ${location} is open to other users (mode ${mode}); run: chmod 700 ${location}`,
      "store-permissions",
    );
  }
}
