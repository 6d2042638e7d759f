// How reid's TypeScript becomes the JavaScript that runs: one ESM bundle for Node 20, packages left
// to node_modules. The CLI (scripts/build.mjs) and the benches (scripts/run-bench.mjs) share it, so
// a bench times the code as it ships.
import { readFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(`${root}package.json`, "utf8"));

export const bundleOptions = {
  absWorkingDir: root,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  define: { REID_VERSION: JSON.stringify(version) },
  logLevel: "warning",
};
