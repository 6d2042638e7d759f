import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import { ReidError } from "../../errors.js";

export interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
}

/** A page's files by URL path, read once when the page starts. */
export type StaticFiles = ReadonlyMap<string, StaticFile>;

/** Where a page's files are: in the checkout, and in dist/ once the build copied them there. */
export interface StaticFolder {
  /** From the checkout's root: `src/web/static`. */
  readonly source: string;
  /** Under dist/ (scripts/build.mjs copies `source` there): `static`. */
  readonly bundled: string;
  /** What the page is, for the error when its files are missing. */
  readonly what: string;
}

/** What every page serves beside its own files (src/http/browser/static): its JSON calls. */
const SHARED_FOLDER: StaticFolder = {
  source: "src/http/browser/static",
  bundled: "browser-static",
  what: "the pages' shared",
};
const SHARED_FILES = ["json-call.js"] as const;

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * Reads `files` (URL path, file name in the folder) from `folder`, and the shared files beside
 * them under `base` (the page's own path, `/` or `/operator/`); a missing one fails the start.
 */
export function loadStaticFiles(
  folder: StaticFolder,
  base: string,
  files: readonly (readonly [path: string, file: string])[],
): Map<string, StaticFile> {
  const loaded = new Map<string, StaticFile>();
  readFolder(folder, files, loaded);
  readFolder(
    SHARED_FOLDER,
    SHARED_FILES.map((file) => [`${base}${file}`, file] as const),
    loaded,
  );
  return loaded;
}

function readFolder(
  folder: StaticFolder,
  files: readonly (readonly [path: string, file: string])[],
  into: Map<string, StaticFile>,
): void {
  const directory = findFolder(folder, files[0]?.[1] ?? "index.html");
  for (const [path, file] of files) {
    const type = TYPES[extname(file)];
    if (type === undefined) throw missingFiles(`a type for ${file}`);
    into.set(path, { type, body: readFileSync(join(directory, file)) });
  }
}

/** Answers GET for each file, with its type. */
export function serveStaticFiles(app: Hono, files: StaticFiles): void {
  for (const [path, file] of files) {
    app.get(path, (c) => c.body(new Uint8Array(file.body), 200, { "Content-Type": file.type }));
  }
}

export function missingFiles(what: string): ReidError {
  return new ReidError("web-assets-missing", 1, `cannot serve the web page: ${what} not found`);
}

/**
 * In dist/ when reid runs from the bundle (this module is then in dist/ or dist/chunks/), else
 * under the checkout's root, found by walking up from here (src/http/browser when run from source).
 */
function findFolder(folder: StaticFolder, marker: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, folder.bundled), join(dirname(here), folder.bundled)];
  for (let dir = here; ; dir = dirname(dir)) {
    candidates.push(join(dir, folder.source));
    if (dirname(dir) === dir) break;
  }
  const found = candidates.find((dir) => existsSync(join(dir, marker)));
  if (!found) throw missingFiles(`${folder.what}'s files (${folder.source})`);
  return found;
}
