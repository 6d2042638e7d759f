import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ReidError } from "../errors.js";

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** The page's files by URL path, read once when the page starts. */
export type Assets = ReadonlyMap<string, Asset>;

const PAGE_FILES: readonly [path: string, file: string, type: string][] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/app.js", "app.js", "text/javascript; charset=utf-8"],
  ["/style.css", "style.css", "text/css; charset=utf-8"],
];
/** @simplewebauthn/browser's own bundle: the page does WebAuthn through the library. */
export const WEBAUTHN_SCRIPT = "/vendor/simplewebauthn-browser.js";

export function loadAssets(): Assets {
  const directory = staticDirectory();
  const assets = new Map<string, Asset>();
  for (const [path, file, type] of PAGE_FILES) {
    assets.set(path, { type, body: readFileSync(join(directory, file)) });
  }
  assets.set(WEBAUTHN_SCRIPT, {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(webauthnBundle()),
  });
  return assets;
}

/**
 * The page's files: next to this module when it runs from source (src/web/static), in dist/static
 * when it runs from the bundle (the build copies them there), or under a checkout's src/web/static.
 */
function staticDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "static"), join(dirname(here), "static")];
  for (let dir = here; ; dir = dirname(dir)) {
    candidates.push(join(dir, "src", "web", "static"));
    if (dirname(dir) === dir) break;
  }
  const found = candidates.find((dir) => existsSync(join(dir, "index.html")));
  if (!found) throw missing("the page's files (src/web/static)");
  return found;
}

function webauthnBundle(): string {
  let entry: string;
  try {
    // The package exports only its entry (…/script/index.js); its bundle sits beside it.
    entry = createRequire(import.meta.url).resolve("@simplewebauthn/browser");
  } catch {
    throw missing("@simplewebauthn/browser (run npm install)");
  }
  const bundle = join(dirname(dirname(entry)), "dist", "bundle", "index.umd.min.js");
  if (!existsSync(bundle)) throw missing(`the @simplewebauthn/browser bundle (${bundle})`);
  return bundle;
}

function missing(what: string): ReidError {
  return new ReidError("web-assets-missing", 1, `cannot serve the web page: ${what} not found`);
}
