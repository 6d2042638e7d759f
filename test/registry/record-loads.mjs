// Loaded with `node --import` (through NODE_OPTIONS): records the URL of every module the process
// loads, one per line, in the file $REID_LOADS_FILE: each one the ESM loader resolves as it resolves
// it, and at exit each CommonJS file `require` loaded (require's cache, which the ESM hook never sees).
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";

const hooks = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.REID_LOADS_FILE, resolved.url + "\\n");
  return resolved;
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

const { cache } = createRequire(import.meta.url);
process.once("exit", () => {
  const loaded = Object.keys(cache).map((path) => `${pathToFileURL(path).href}\n`);
  appendFileSync(process.env.REID_LOADS_FILE ?? "", loaded.join(""));
});
