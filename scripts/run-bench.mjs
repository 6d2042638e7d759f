// Builds the CLI, then bundles the figure benches in bench/ the way the CLI is bundled (so they time
// the code as it ships, not TypeScript compiled at run time) into .bench/, and runs them in turn.
// `npm run bench -- reset binding` runs only the benches whose names contain one of the words.
// bench/torture.ts runs on its own: it is long.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { build } from "esbuild";
import { bundleOptions } from "./bundle-options.mjs";

const root = new URL("..", import.meta.url).pathname;
const benches = ["reset", "random", "startup", "derive", "daemon", "tpm", "binding", "puf"];
const words = process.argv.slice(2);
const chosen = benches.filter((name) => words.length === 0 || words.some((word) => name.includes(word)));
if (chosen.length === 0) {
  console.error(`no bench matches ${words.join(" ")} (there are ${benches.join(", ")})`);
  process.exit(2);
}

const built = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
// Beside bench/, so the paths a bench takes from its own URL (../dist/reid.js) stay the same.
const out = `${root}.bench`;
rmSync(out, { recursive: true, force: true });
await build({
  ...bundleOptions,
  entryPoints: Object.fromEntries(chosen.map((name) => [name, `bench/${name}.ts`])),
  outdir: out,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
for (const name of chosen) {
  console.log(`\n== bench/${name}.ts`);
  const result = spawnSync(process.execPath, [`${out}/${name}.js`], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
