// The element is below everything that uses it: nothing in src/element/ imports binding/, web/,
// daemon/, http/ or cli/, type-only imports and lazy import() included. What composes the element
// with the bindings lives above both (daemon/compose.ts).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve(import.meta.dirname, "../../src");
const ABOVE_ELEMENT = new Set(["binding", "web", "daemon", "http", "cli"]);

/** Every module `text` names: import and export ... from, type-only or not, and import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g))
    found.push(match[1] as string);
  return found;
}

/** The imports of `file` (a path under src/) that reach a folder above the element. */
function upwardImports(file: string, text: string): string[] {
  return specifiers(text).filter((specifier) => {
    if (!specifier.startsWith(".")) return false;
    const target = relative(SRC, resolve(dirname(join(SRC, file)), specifier));
    return ABOVE_ELEMENT.has(target.split("/")[0] as string);
  });
}

test("the checker sees every kind of import that reaches above the element", () => {
  const bad = [
    'import type { BindingApi } from "../binding/api.js";',
    'export { x } from "../daemon/compose.js";',
    'const { BindingService } = await import("../binding/service.js");',
    'import {\n  withElement,\n} from "../cli/with-element.js";',
  ].join("\n");
  assert.deepEqual(upwardImports("element/bad.ts", bad), [
    "../binding/api.js",
    "../daemon/compose.js",
    "../binding/service.js",
    "../cli/with-element.js",
  ]);
  assert.deepEqual(upwardImports("element/good.ts", 'import { StateError } from "../errors.js";'), []);
});

test("src/element imports nothing from binding, web, daemon, http or cli", () => {
  const files = readdirSync(join(SRC, "element"), { recursive: true, encoding: "utf8" }).filter((name) =>
    name.endsWith(".ts"),
  );
  assert.ok(files.length > 5, "no element files found");
  const offending = files.flatMap((name) =>
    upwardImports(`element/${name}`, readFileSync(join(SRC, "element", name), "utf8")).map(
      (specifier) => `element/${name} imports ${specifier}`,
    ),
  );
  assert.deepEqual(offending, []);
});
