import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { loadStaticFiles, missingFiles, type StaticFiles } from "../http/browser/static-files.js";

/** The page's files by URL path, read once when the page starts. */
export type Assets = StaticFiles;

const PAGE_FILES = [
  ["/", "index.html"],
  ["/app.js", "app.js"],
  ["/connection.js", "connection.js"],
  ["/identicon.js", "identicon.js"],
  ["/style.css", "style.css"],
] as const;
/** @simplewebauthn/browser's own bundle: the page does WebAuthn through the library. */
export const WEBAUTHN_SCRIPT = "/vendor/simplewebauthn-browser.js";

export function loadAssets(): Assets {
  const assets = loadStaticFiles(
    { source: "src/web/static", bundled: "static", what: "the owner's page" },
    "/",
    PAGE_FILES,
  );
  assets.set(WEBAUTHN_SCRIPT, {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(webauthnBundle()),
  });
  return assets;
}

function webauthnBundle(): string {
  let entry: string;
  try {
    // The package exports only its entry (…/script/index.js); its bundle sits beside it.
    entry = createRequire(import.meta.url).resolve("@simplewebauthn/browser");
  } catch {
    throw missingFiles("@simplewebauthn/browser (run npm install)");
  }
  const bundle = join(dirname(dirname(entry)), "dist", "bundle", "index.umd.min.js");
  if (!existsSync(bundle)) throw missingFiles(`the @simplewebauthn/browser bundle (${bundle})`);
  return bundle;
}
