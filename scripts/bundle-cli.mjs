// How the CLI's modules become files in dist/, so that `reid status` (bench/startup.ts) loads two:
// Node's ESM loader spends about as much on each file it loads as on 20 KB of code, and esbuild's
// splitting alone cuts the start-up path into a chunk per set of commands that share a module.
//
//   dist/reid.js          src/cli/main.ts, nothing else
//   dist/chunks/core.js   every module the start-up path reaches statically (the CLI's run, status
//                         and the store's read side), one file, built without splitting
//   dist/chunks/*.js      everything else (the other commands, the element's composition, the
//                         backends, the registry), split by esbuild as before; among them
//                         registry-certifier.js, the registry's certifying thread, a file of its own
//                         for its Worker (src/registry/certify/pool.ts)
//
// Every module exists once. The other chunks reach a core module through a facade that re-exports
// it from core.js, so there is one ReidError class, one flock module, one of each; the build fails
// if any module lands in two files. core.js's dynamic imports of other modules name their chunks.
import { relative } from "node:path";
import { build } from "esbuild";
import { bundleOptions } from "./bundle-options.mjs";

const MAIN = "src/cli/main.ts";
const WORKER = "src/registry/certify/worker.ts";
/** Where the start-up path begins below main.ts: every command's run, and status itself. */
const START_UP = ["src/cli/run.ts", "src/cli/commands/status.ts"];
const CORE = "chunks/core.js";

/** Builds the CLI into `outdir` (dist/ or a directory beside it). */
export async function bundleCli(root, outdir) {
  const graph = await analyse(root);
  const core = staticClosure(graph, START_UP);
  const names = await exportNames(root, [...core]);
  const lazy = lazyEntries(graph, core);
  const common = { ...bundleOptions, absWorkingDir: root, outdir, metafile: true };
  const coreBuild = await build({
    ...common,
    stdin: { contents: coreEntry([...core], names), resolveDir: root, sourcefile: "core-entry.js" },
    outdir: undefined,
    outfile: `${outdir}/${CORE}`,
    plugins: [lazyChunks(root, core, lazy)],
  });
  const restBuild = await build({
    ...common,
    entryPoints: { "chunks/registry-certifier": WORKER, ...Object.fromEntries(lazy) },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    plugins: [coreFacades(root, core, names, "./core.js")],
  });
  const mainBuild = await build({
    ...common,
    entryPoints: { reid: MAIN },
    plugins: [coreFacades(root, core, names, `./${CORE}`)],
  });
  checkOnce([coreBuild, restBuild, mainBuild]);
}

/** The whole CLI's import graph: each source file's imports, static and dynamic. */
async function analyse(root) {
  const { metafile } = await build({
    ...bundleOptions,
    absWorkingDir: root,
    entryPoints: [MAIN, WORKER],
    outdir: "unused",
    splitting: true,
    write: false,
    metafile: true,
  });
  return metafile.inputs;
}

/** The source files `starts` reach through static imports. */
function staticClosure(graph, starts) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path) || !graph[path]) return;
    seen.add(path);
    for (const { path: next, kind } of graph[path].imports) if (kind === "import-statement") visit(next);
  };
  for (const start of starts) visit(start);
  return seen;
}

/** Each module's export names, as esbuild sees them (one entry point per module). */
async function exportNames(root, modules) {
  const { metafile } = await build({
    ...bundleOptions,
    absWorkingDir: root,
    entryPoints: modules,
    outdir: "unused",
    splitting: true,
    write: false,
    metafile: true,
  });
  const names = new Map();
  for (const output of Object.values(metafile.outputs)) {
    if (output.entryPoint) names.set(output.entryPoint, output.exports);
  }
  return names;
}

/** The modules core.js imports dynamically that are not in it: each an entry of its own. */
function lazyEntries(graph, core) {
  const entries = new Map();
  for (const path of core) {
    for (const { path: next, kind } of graph[path].imports) {
      if (kind !== "dynamic-import" || core.has(next) || !graph[next]) continue;
      entries.set(entryName(next), next);
    }
  }
  return entries;
}

/** A lazy entry's name: "src/storage/tpm/backend.ts" is chunks/storage~tpm~backend.js. */
function entryName(path) {
  return `chunks/${path
    .replace(/^src\//, "")
    .replace(/\.ts$/, "")
    .replaceAll("/", "~")}`;
}

/** core.js: every core module, its exports renamed apart (m12$ReidError) so no two collide. */
function coreEntry(modules, names) {
  return modules
    .map((path, i) => {
      const exported = names.get(path) ?? [];
      if (exported.length === 0) return `import "./${path}";`;
      return `export { ${exported.map((name) => `${name} as ${coreName(i, name)}`).join(", ")} } from "./${path}";`;
    })
    .join("\n");
}

/** In core.js, a dynamic import of a module outside it names that module's chunk. */
function lazyChunks(root, core, lazy) {
  const byPath = new Map([...lazy].map(([name, path]) => [path, `./${name.replace(/^chunks\//, "")}.js`]));
  return {
    name: "lazy-chunks",
    setup(esbuild) {
      esbuild.onResolve({ filter: /^\./ }, async (args) => {
        if (args.kind !== "dynamic-import" || args.pluginData === "resolving") return undefined;
        const path = await sourceOf(esbuild, root, args);
        if (core.has(path)) return undefined;
        const chunk = byPath.get(path);
        if (!chunk) throw new Error(`core.js imports ${path}, which has no chunk of its own`);
        return { path: chunk, external: true };
      });
    },
  };
}

/** Outside core.js, an import of a core module is a facade re-exporting it from core.js (`from`). */
function coreFacades(root, core, names, from) {
  const modules = [...core];
  return {
    name: "core-facades",
    setup(esbuild) {
      esbuild.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === "resolving" || args.namespace === "core") return undefined;
        const path = await sourceOf(esbuild, root, args);
        return core.has(path) ? { path, namespace: "core" } : undefined;
      });
      esbuild.onResolve({ filter: /.*/, namespace: "core" }, (args) => ({ path: args.path, external: true }));
      esbuild.onLoad({ filter: /.*/, namespace: "core" }, ({ path }) => {
        const i = modules.indexOf(path);
        const exported = names.get(path) ?? [];
        const list = exported.map((name) => `${coreName(i, name)} as ${name}`).join(", ");
        return { contents: exported.length ? `export { ${list} } from "${from}";` : `import "${from}";` };
      });
    },
  };
}

/** The source file an import names (relative to `root`), resolved as esbuild resolves it. */
async function sourceOf(esbuild, root, args) {
  const found = await esbuild.resolve(args.path, {
    kind: args.kind,
    resolveDir: args.resolveDir,
    importer: args.importer,
    // Marks this resolution as the plugin's own, so the plugin passes it on.
    pluginData: "resolving",
  });
  return relative(root, found.path);
}

/** The name core.js exports the `i`th core module's export `name` under. */
function coreName(i, name) {
  return `m${i}$${name}`;
}

/** Fails the build when a module is in two files: two instances would break `instanceof` and shared state. */
function checkOnce(builds) {
  const where = new Map();
  for (const { metafile } of builds) {
    for (const [file, output] of Object.entries(metafile.outputs)) {
      for (const input of Object.keys(output.inputs)) {
        if (!input.startsWith("src/")) continue;
        const before = where.get(input);
        if (before && before !== file) throw new Error(`${input} is bundled twice: in ${before} and ${file}`);
        where.set(input, file);
      }
    }
  }
}
