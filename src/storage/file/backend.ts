import { existsSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../errors.js";
import type { Backend } from "../backend.js";
import { FileAuditKeyHome } from "./audit-key.js";
import { CommitCounterFile } from "./commit-counter.js";
import { FileArea } from "./file-area.js";

/** The files backend has nothing to name: its areas are files in the store directory. */
export type FileSpec = Record<string, never>;

/**
 * The embedded default: two area files in the store directory itself. The directory's lock (taken
 * by storage/open.ts) is the areas' lock.
 */
export const backend: Backend<FileSpec> = {
  kind: "files",
  parse(text) {
    if (text !== "") throw new UsageError(`the files backend takes no spec (got '${text}')`);
    return {};
  },
  format: () => "",
  samePlace: () => true,
  defaultSource: "os",
  holdsAreasIn: (directory) => existsSync(join(directory, "area-0")) || existsSync(join(directory, "area-1")),
  async open(directory, _spec, options) {
    return {
      area: new FileArea(directory, { write: options.write }),
      counter: new CommitCounterFile(directory),
      auditKey: new FileAuditKeyHome(directory),
      description: "files",
      close: async () => undefined,
    };
  },
};
