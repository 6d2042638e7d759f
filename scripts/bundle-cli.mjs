// How the CLI's modules become files in dist/, so that `reid status` (bench/startup.ts) costs Node
// little beyond its own start: it loads two files, both CommonJS. Node's ESM loader spends about
// as much on each file it loads as on 20 KB of code, and an ESM import of a builtin module builds
// the builtin's whole namespace (node:crypto's lazy parts among them); the CommonJS path does
// neither. esbuild's splitting alone would cut the start-up path into a chunk per set of commands
// that share a module.
//
//   dist/reid.js          src/cli/main.ts, nothing else; CommonJS by dist/package.json
//   dist/chunks/core.cjs  every module the start-up path reaches statically (the CLI's run, status
//                         and the store's read side), one CommonJS file, built without splitting
//   dist/chunks/*.js      everything else (the other commands, the element's composition, the
//                         backends, the registry), ESM (dist/chunks/package.json), split by esbuild
//                         as before; among them registry-certifier.js, the registry's certifying
//                         thread, a file of its own for its Worker (src/registry/certify/pool.ts)
//
// Every module exists once. The other chunks reach a core module through a facade that takes its
// exports from core.cjs (one `require` of it), so there is one ReidError class, one flock module,
// one of each; the build fails if any module lands in two files. core.cjs's dynamic imports of
// other modules name their chunks; `import()` from CommonJS loads them as ESM.
import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import { build } from "esbuild";
import { bundleOptions } from "./bundle-options.mjs";

const MAIN = "src/cli/main.ts";
const WORKER = "src/registry/certify/worker.ts";
/** Where the start-up path begins below main.ts: every command's run, and status itself. */
const START_UP = ["src/cli/run.ts", "src/cli/commands/status.ts"];
const CORE_FILE = "core.cjs";
const CORE = `chunks/${CORE_FILE}`;
/**
 * core.cjs's first lines: strict, as ESM always is (CommonJS is sloppy unless it says so), and the
 * import.meta its modules read, its URL made on demand.
 */
const IMPORT_META = `"use strict";
var __importMeta = {
  dirname: __dirname,
  filename: __filename,
  get url() { return require("node:url").pathToFileURL(__filename).href; },
};`;

/** Builds the CLI into `outdir` (dist/ or a directory beside it). */
export async function bundleCli(root, outdir) {
  const graph = await analyse(root);
  const core = staticClosure(graph, START_UP);
  const names = await exportNames(root, [...core]);
  const lazy = lazyEntries(graph, core);
  const common = { ...bundleOptions, absWorkingDir: root, outdir, metafile: true };
  const coreBuild = await build({
    ...common,
    format: "cjs",
    // CommonJS has no import.meta: a core module's is made of the file's own names (IMPORT_META).
    define: { ...bundleOptions.define, "import.meta": "__importMeta" },
    banner: { js: IMPORT_META },
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
    plugins: [requireFacades(root, core, names)],
  });
  const mainBuild = await build({
    ...common,
    format: "cjs",
    entryPoints: { reid: MAIN },
    plugins: [reexportFacades(root, core, names, `./${CORE}`)],
  });
  checkOnce([coreBuild, restBuild, mainBuild]);
  checkQuiet([coreBuild, restBuild, mainBuild]);
  writeFileSync(`${outdir}/package.json`, '{ "type": "commonjs" }\n');
  writeFileSync(`${outdir}/chunks/package.json`, '{ "type": "module" }\n');
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

/** The modules core.cjs imports dynamically that are not in it: each an entry of its own. */
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

/** core.cjs: every core module, its exports renamed apart (m12$ReidError) so no two collide. */
function coreEntry(modules, names) {
  return modules
    .map((path, i) => {
      const exported = names.get(path) ?? [];
      if (exported.length === 0) return `import "./${path}";`;
      return `export { ${exported.map((name) => `${name} as ${coreName(i, name)}`).join(", ")} } from "./${path}";`;
    })
    .join("\n");
}

/** In core.cjs, a dynamic import of a module outside it names that module's chunk. */
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
        if (!chunk) throw new Error(`core.cjs imports ${path}, which has no chunk of its own`);
        return { path: chunk, external: true };
      });
    },
  };
}

/**
 * Outside the core file, an import of a core module is a facade over it: `facade(exported, i)` is its
 * text, given the module's export names and its index in the core file.
 */
function coreFacades(root, core, names, facade, extra = () => undefined) {
  const modules = [...core];
  return {
    name: "core-facades",
    setup(esbuild) {
      extra(esbuild);
      esbuild.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === "resolving" || args.namespace !== "file") return undefined;
        const path = await sourceOf(esbuild, root, args);
        return core.has(path) ? { path, namespace: "core" } : undefined;
      });
      esbuild.onLoad({ filter: /.*/, namespace: "core" }, ({ path }) => ({
        contents: facade(names.get(path) ?? [], modules.indexOf(path)),
        resolveDir: root,
      }));
    },
  };
}

/** For the CommonJS entry: a facade re-exports the module from the core file (a require, once bundled). */
function reexportFacades(root, core, names, from) {
  return coreFacades(
    root,
    core,
    names,
    (exported, i) => {
      const list = exported.map((name) => `${coreName(i, name)} as ${name}`).join(", ");
      return exported.length ? `export { ${list} } from "${from}";` : `import "${from}";`;
    },
    (esbuild) => esbuild.onResolve({ filter: /core\.cjs$/ }, ({ path }) => ({ path, external: true })),
  );
}

/**
 * For the ESM chunks: a facade takes the module's exports from the core file as `require` returns
 * it. An ESM `import` of a CommonJS file would first scan all of its text for export names, which
 * costs any command that loads a chunk more than the CommonJS start-up saves. The facade copies
 * each export's value once, not a live binding: right for functions, classes and constants, which
 * is all src/ exports (no module exports a `let`).
 */
function requireFacades(root, core, names) {
  const LOADER = "core-exports";
  return coreFacades(
    root,
    core,
    names,
    (exported, i) => {
      const values = exported
        .map((name) => `const ${coreName(i, name)} = core.${coreName(i, name)};`)
        .join("\n");
      const list = exported.map((name) => `${coreName(i, name)} as ${name}`).join(", ");
      return `import core from "${LOADER}";\n${values}\nexport { ${list} };`;
    },
    (esbuild) => {
      esbuild.onResolve({ filter: new RegExp(`^${LOADER}$`) }, () => ({ path: LOADER, namespace: LOADER }));
      esbuild.onLoad({ filter: /.*/, namespace: LOADER }, () => ({
        contents: `import { createRequire } from "node:module";\nexport default createRequire(import.meta.url)("./${CORE_FILE}");`,
        resolveDir: root,
      }));
    },
  );
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

/** The name core.cjs exports the `i`th core module's export `name` under. */
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

/**
 * Fails the build on any warning: in CommonJS, one is a silent change of meaning (an import.meta
 * property that would be undefined, a top-level `this`), which the ESM build never had.
 */
function checkQuiet(builds) {
  const warnings = builds.flatMap((result) => result.warnings);
  if (warnings.length > 0)
    throw new Error(`the bundle has warnings: ${warnings.map((w) => w.text).join("; ")}`);
}
