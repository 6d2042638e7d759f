import { loadStaticFiles, type StaticFiles } from "../../http/browser/static-files.js";

/** Where the operator's page lives on the registry's listener (docs/spec.md §10.11). */
export const OPERATOR_PAGE = "/operator";

/**
 * The page's files (src/registry/page/static): the document, its style and its script modules;
 * loadStaticFiles adds the modules every page shares (json-call.js).
 */
const PAGE_FILES = [
  [`${OPERATOR_PAGE}/`, "index.html"],
  [`${OPERATOR_PAGE}/style.css`, "style.css"],
  [`${OPERATOR_PAGE}/app.js`, "app.js"],
  [`${OPERATOR_PAGE}/api.js`, "api.js"],
  [`${OPERATOR_PAGE}/fleet.js`, "fleet.js"],
  [`${OPERATOR_PAGE}/device.js`, "device.js"],
  [`${OPERATOR_PAGE}/chain.js`, "chain.js"],
  [`${OPERATOR_PAGE}/events.js`, "events.js"],
  [`${OPERATOR_PAGE}/tokens.js`, "tokens.js"],
] as const;

export function loadOperatorPageFiles(): StaticFiles {
  return loadStaticFiles(
    { source: "src/registry/page/static", bundled: "operator-static", what: "the operator's page" },
    `${OPERATOR_PAGE}/`,
    PAGE_FILES,
  );
}
