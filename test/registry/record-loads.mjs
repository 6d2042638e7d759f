// Loaded with `node --import` (through NODE_OPTIONS): records the URL of every module the process
// resolves through the ESM loader, one per line, in the file $REID_LOADS_FILE.
import { register } from "node:module";

const hooks = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.REID_LOADS_FILE, resolved.url + "\\n");
  return resolved;
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
