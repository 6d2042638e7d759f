// How dist/ is cut (scripts/bundle-cli.mjs): `reid status` loads two files, dist/reid.js and
// dist/chunks/core.cjs, both CommonJS, so that it never starts Node's ESM loader; the other
// commands' chunks are ESM and take the core modules from core.cjs. No module is in two files,
// which would make two instances of it (two ReidError classes, so that `instanceof` fails between
// them; two flock modules). Read from the built files, as they ship.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const dist = new URL("../../dist/", import.meta.url).pathname;
/** Records every module a process loads, ESM or CommonJS (test/registry/record-loads.mjs). */
const RECORDER = fileURLToPath(new URL("../registry/record-loads.mjs", import.meta.url));

/** The specifiers a bundled file imports statically (`import ... from "x"`, `import "x"`). */
function staticImports(file: string): string[] {
  const text = readFileSync(join(dist, file), "utf8");
  return [...text.matchAll(/^(?:import|export)\s(?:[^"';]*?\sfrom\s)?"([^"]+)";?$/gms)].map(
    (m) => m[1] as string,
  );
}

/** The specifiers a CommonJS file passes to `require` (at load or later), and to `import()`. */
function requires(file: string): { required: string[]; imported: string[] } {
  const text = readFileSync(join(dist, file), "utf8");
  const all = (pattern: RegExp) => [...text.matchAll(pattern)].map((m) => m[1] as string);
  return { required: all(/\brequire\("([^"]+)"\)/g), imported: all(/\bimport\("([^"]+)"\)/g) };
}

/** The files of dist/ a recorded process loaded (its recorder's file), each once, sorted. */
function distFilesLoaded(file: string): string[] {
  const loaded = readFileSync(file, "utf8")
    .split("\n")
    .filter((url) => url.includes("/dist/"))
    .map((url) => relative(dist, fileURLToPath(url)));
  return [...new Set(loaded)].sort();
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.c?js$/.test(entry.name)) yield relative(dist, path);
  }
}

describe("the bundle in dist/", () => {
  it("reid status loads two files of reid's, reid.js and chunks/core.cjs, on a store no daemon serves", async (t) => {
    const { dir, store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const file = join(dir, "loads.txt");
    const status = await reidOk(["--store", store, "--json", "status"], {
      env: { NODE_OPTIONS: `--import=${RECORDER}`, REID_LOADS_FILE: file },
    });
    assert.equal(JSON.parse(status.stdout).state, "set");
    assert.deepEqual(distFilesLoaded(file), ["chunks/core.cjs", "reid.js"]);
    // Any other command loads its own chunks beside them (the recorder sees them when they load).
    const keys = `${dir}/keys.txt`;
    await reidOk(["--store", store, "keys"], {
      env: { NODE_OPTIONS: `--import=${RECORDER}`, REID_LOADS_FILE: keys },
    });
    assert.ok(
      readFileSync(keys, "utf8")
        .split("\n")
        .filter((url) => url.includes("/dist/chunks/")).length > 2,
    );
  });

  it("reid --version loads the same two files and no command's chunk, and honours --json", async (t) => {
    const { dir } = tempDir(t);
    const file = join(dir, "loads.txt");
    const answer = await reidOk(["--version", "--json"], {
      env: { NODE_OPTIONS: `--import=${RECORDER}`, REID_LOADS_FILE: file },
    });
    assert.match(JSON.parse(answer.stdout).version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(distFilesLoaded(file), ["chunks/core.cjs", "reid.js"]);
  });

  it("reid status starts from two CommonJS files: reid.js requires core.cjs, which requires no other file of reid's", () => {
    // CommonJS by the nearest package.json: dist/'s for reid.js, the extension for core.cjs; the
    // chunks beside core.cjs are ESM by dist/chunks/package.json.
    assert.equal(JSON.parse(readFileSync(join(dist, "package.json"), "utf8")).type, "commonjs");
    assert.equal(JSON.parse(readFileSync(join(dist, "chunks/package.json"), "utf8")).type, "module");
    assert.deepEqual(staticImports("reid.js"), []);
    assert.deepEqual(requires("reid.js"), { required: ["./chunks/core.cjs"], imported: [] });
    const core = requires("chunks/core.cjs");
    assert.deepEqual(staticImports("chunks/core.cjs"), []);
    assert.ok(
      core.required.some((specifier) => specifier.startsWith("node:")),
      "no require found at all in core.cjs",
    );
    assert.deepEqual(
      core.required.filter((specifier) => !specifier.startsWith("node:")),
      [],
      "core.cjs requires more than Node's own modules up front",
    );
    // The other commands are imported when they run, ESM chunks of their own beside core.cjs.
    assert.ok(core.imported.includes("./cli~commands~keys.js"), "core.cjs imports no command's chunk");
    for (const specifier of core.imported.filter((s) => s.startsWith("."))) {
      assert.ok(
        existsSync(join(dist, "chunks", specifier)),
        `core.cjs imports ${specifier}, which is not there`,
      );
    }
    const text = readFileSync(join(dist, "chunks/core.cjs"), "utf8");
    // Strict, as the ESM modules they are made of: CommonJS is sloppy unless it says so.
    assert.match(text, /^"use strict";\n/);
    assert.match(readFileSync(join(dist, "reid.js"), "utf8"), /^#!.*\n"use strict";\n/);
    // The start-up path is there, and the element's composition is not.
    assert.match(text, /^\/\/ src\/element\/status-read\.ts$/m);
    assert.doesNotMatch(text, /^\/\/ src\/element\/(control-unit|request-pipeline|owner-gate)\.ts$/m);
    assert.doesNotMatch(text, /^\/\/ src\/audit\/audit-log\.ts$/m);
  });

  it("the ESM chunks take the core modules from core.cjs: one ReidError class for every file", async () => {
    // core.cjs's report tells a ReidError by `instanceof`: the class a chunk passes on to the
    // other commands must be the very one core.cjs exports, not a copy.
    const core = Object.values(createRequire(join(dist, "chunks/core.cjs"))("./core.cjs"));
    const passing = [...files(join(dist, "chunks"))].filter((file) =>
      /\bm\d+\$ReidError = /.test(readFileSync(join(dist, file), "utf8")),
    );
    assert.ok(passing.length > 0, "no chunk takes ReidError from core.cjs");
    for (const file of passing) {
      const exported = Object.values(await import(pathToFileURL(join(dist, file)).href));
      const classes = exported.filter((value) => typeof value === "function" && value.name === "ReidError");
      assert.equal(classes.length, 1, `${file} passes on no ReidError`);
      assert.ok(core.includes(classes[0]), `${file}'s ReidError is not core.cjs's`);
    }
  });

  it("every module of src/ is in one file only", () => {
    const where = new Map<string, Set<string>>();
    for (const file of files(dist)) {
      const text = readFileSync(join(dist, file), "utf8");
      for (const [, module] of text.matchAll(/^\/\/ (src\/\S+\.ts)$/gm)) {
        where.set(module as string, (where.get(module as string) ?? new Set()).add(file));
      }
    }
    assert.ok(where.size > 200, `only ${where.size} modules found: is the bundle minified?`);
    const twice = [...where]
      .filter(([, in_]) => in_.size > 1)
      .map(([module, in_]) => `${module}: ${[...in_].join(", ")}`);
    assert.deepEqual(twice, []);
  });
});
