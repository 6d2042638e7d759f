// How dist/ is cut (scripts/bundle-cli.mjs): `reid status` loads two files, dist/reid.js and
// dist/chunks/core.js, Node's loader costing about as much per file as per 20 KB of code; and no
// module is in two files, which would make two instances of it (two ReidError classes, so that
// `instanceof` fails between them; two flock modules). Read from the built files, as they ship.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const dist = new URL("../../dist/", import.meta.url).pathname;
/** Records every module a process resolves through the ESM loader (test/registry/record-loads.mjs). */
const RECORDER = fileURLToPath(new URL("../registry/record-loads.mjs", import.meta.url));

/** The specifiers a bundled file imports statically (`import ... from "x"`, `import "x"`). */
function staticImports(file: string): string[] {
  const text = readFileSync(join(dist, file), "utf8");
  return [...text.matchAll(/^(?:import|export)\s(?:[^"';]*?\sfrom\s)?"([^"]+)";?$/gms)].map(
    (m) => m[1] as string,
  );
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.name.endsWith(".js")) yield relative(dist, path);
  }
}

describe("the bundle in dist/", () => {
  it("reid status resolves two files of reid's, reid.js and chunks/core.js, on a store no daemon serves", async (t) => {
    const { dir, store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const file = join(dir, "loads.txt");
    const status = await reidOk(["--store", store, "--json", "status"], {
      env: { NODE_OPTIONS: `--import=${RECORDER}`, REID_LOADS_FILE: file },
    });
    assert.equal(JSON.parse(status.stdout).state, "set");
    const loaded = readFileSync(file, "utf8")
      .split("\n")
      .filter((url) => url.includes("/dist/"))
      .map((url) => relative(dist, fileURLToPath(url)));
    assert.deepEqual([...new Set(loaded)].sort(), ["chunks/core.js", "reid.js"]);
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

  it("reid status starts from two files: reid.js imports core.js, which imports no other file of reid's", () => {
    assert.deepEqual(staticImports("reid.js"), ["./chunks/core.js"]);
    const core = staticImports("chunks/core.js");
    assert.ok(
      core.some((specifier) => specifier.startsWith("node:")),
      "no import found at all in core.js",
    );
    assert.deepEqual(
      core.filter((specifier) => specifier.startsWith(".")),
      [],
      "core.js loads other files of reid's up front",
    );
    const text = readFileSync(join(dist, "chunks/core.js"), "utf8");
    // The start-up path is there, and the element's composition is not.
    assert.match(text, /^\/\/ src\/element\/status-read\.ts$/m);
    assert.doesNotMatch(text, /^\/\/ src\/element\/(control-unit|request-pipeline|owner-gate)\.ts$/m);
    assert.doesNotMatch(text, /^\/\/ src\/audit\/audit-log\.ts$/m);
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
