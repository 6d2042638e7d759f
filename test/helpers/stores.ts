import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import { openStore, type StoreOpenOptions } from "../../src/storage/open.js";
import { givenStoreSpec, type StoreSpec } from "../../src/storage/store-spec.js";
import { formatTpmSpec, type TpmSpec } from "../../src/tpm/spec.js";

/**
 * A store directory opened through the one opener (storage/open.ts): its own backend when it
 * remembers one, else the files backend.
 */
export async function openFileStore(directory: string, options: StoreOpenOptions): Promise<IdentifierStore> {
  return (await openStore(directory, null, options)).store;
}

/** The TPM backend at `spec`, as --tpm names it. */
export function tpmStore(spec: TpmSpec): Promise<StoreSpec> {
  return givenStoreSpec("tpm", formatTpmSpec(spec));
}
