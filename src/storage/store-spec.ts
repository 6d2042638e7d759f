import { join } from "node:path";
import { ReidError, StorageError } from "../errors.js";
import type { Backend } from "./backend.js";
import { BACKENDS, backendEntry, FILES } from "./backends.js";
import { readStoreFile, STORE_FILE, type StoreFile } from "./store-file.js";

/** Which backend holds a store's areas, and where in it: parsed once, opened by storage/open.ts. */
export interface StoreSpec {
  readonly kind: string;
  readonly backend: Backend<unknown>;
  /** The backend's own parsed spec (a TpmSpec, ...). */
  readonly spec: unknown;
  /** An option or its variable named it; else the store remembered it, or it is the default (files). */
  readonly given: boolean;
}

/** What --tpm SPEC (or another backend's option or variable) names; a usage error on bad text. */
export async function givenStoreSpec(kind: string, text: string): Promise<StoreSpec> {
  const entry = backendEntry(kind);
  if (!entry) throw new RangeError(`no backend '${kind}'`);
  const backend = await entry.load();
  return { kind, backend, spec: backend.parse(text), given: true };
}

/** The default backend (the store directory's own files). */
export async function defaultStoreSpec(): Promise<StoreSpec> {
  const files = BACKENDS[0];
  if (files?.kind !== FILES) throw new RangeError("the files backend must come first");
  const backend = await files.load();
  return { kind: FILES, backend, spec: backend.parse(""), given: false };
}

/**
 * When no option names a backend: the one the store directory remembers, else files. A memory that
 * cannot be read is left for the opener, which reports it under the store's lock.
 */
export async function rememberedStoreSpec(directory: string): Promise<StoreSpec> {
  try {
    const file = readStoreFile(directory);
    if (file) return await storeSpecOf(directory, file);
  } catch (error) {
    if (!(error instanceof ReidError)) throw error;
  }
  return defaultStoreSpec();
}

/** The spec a store file names; a storage error when this reid does not know it or cannot read it. */
export async function storeSpecOf(directory: string, file: StoreFile): Promise<StoreSpec> {
  const where = join(directory, file.legacy ? "tpm" : STORE_FILE);
  const entry = backendEntry(file.backend);
  if (!entry) {
    throw new StorageError(
      `${where} names the backend '${file.backend}', which this reid does not know`,
      "store-backend-unknown",
    );
  }
  const backend = await entry.load();
  try {
    return { kind: entry.kind, backend, spec: backend.parse(file.spec), given: false };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new StorageError(`${where} is corrupt: ${why}`, "store-corrupt");
  }
}

/** The spec as the store remembers it. */
export function specText(store: StoreSpec): string {
  return store.backend.format(store.spec);
}
