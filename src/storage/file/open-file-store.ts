import { DualAreaStore } from "../dual-area-store.js";
import type { IdentifierStore } from "../identifier-store.js";
import { FileArea, type FileAreaOptions } from "./file-area.js";

/** The embedded default backend: two area files in a private directory. */
export async function openFileStore(directory: string, options: FileAreaOptions): Promise<IdentifierStore> {
  return new DualAreaStore(await FileArea.open(directory, options));
}
