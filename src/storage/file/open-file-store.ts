import { DualAreaStore } from "../dual-area-store.js";
import type { IdentifierStore } from "../identifier-store.js";
import type { Sealer } from "../sealer.js";
import { FileArea, type FileAreaOptions } from "./file-area.js";

/** The embedded default backend: two area files in a private directory, optionally sealed. */
export async function openFileStore(
  directory: string,
  options: FileAreaOptions & { readonly sealer?: Sealer | null },
): Promise<IdentifierStore> {
  return new DualAreaStore(await FileArea.open(directory, options), options.sealer ?? null);
}
