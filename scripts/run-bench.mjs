// Builds the CLI, then bundles the figure benches in bench/ the way the CLI is bundled (so they time
// the code as it ships, not TypeScript compiled at run time) into .bench/, and runs them in turn.
// `npm run bench -- reset binding` runs only the benches whose names contain one of the words.
// bench/torture.ts runs on its own: it is long.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { bundleOptions } from "./bundle-options.mjs";

const root = new URL("..", import.meta.url).pathname;
const benches = [
  "reset",
  "random",
  "startup",
  "derive",
  "daemon",
  "tpm",
  "binding",
  "puf",
  "registry",
  "registry-nodes",
];
const words = process.argv.slice(2);
const chosen = benches.filter((name) => words.length === 0 || words.some((word) => name.includes(word)));
if (chosen.length === 0) {
  console.error(`no bench matches ${words.join(" ")} (there are ${benches.join(", ")})`);
  process.exit(2);
}

const built = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
const out = `${root}.bench`;
rmSync(out, { recursive: true, force: true });
/**
 * Each module keeps its own location in the bundle: the benches and the test helpers they share
 * find dist/reid.js, fixtures and node_modules from where their source file is.
 */
const sourceLocations = {
  name: "source-locations",
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.ts$/ }, ({ path }) => ({
      loader: "ts",
      contents: readFileSync(path, "utf8")
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(dirname(path))),
    }));
  },
};
await build({
  ...bundleOptions,
  entryPoints: Object.fromEntries(chosen.map((name) => [name, `bench/${name}.ts`])),
  outdir: out,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  plugins: [sourceLocations],
});
for (const name of chosen) {
  console.log(`\n== bench/${name}.ts`);
  const result = spawnSync(process.execPath, [`${out}/${name}.js`], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
