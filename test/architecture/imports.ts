// The import graph of a source tree, folder by folder: every relative import of every .ts file
// (static, dynamic, type-only, re-exports), read with TypeScript's own scanner so comments and
// strings are never mistaken for imports.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import ts from "typescript";

/** One import of one file: who imports, and the file it names (both relative to the root). */
export interface Import {
  readonly from: string;
  readonly to: string;
}

/** Every .ts file under `dir`. */
export function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Every relative import under `root` ("./x.js" and "../y/z.js" name the .ts files beside them). */
export function importsOf(root: string): Import[] {
  const found: Import[] = [];
  for (const file of sources(root)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = join(dirname(file), fileName).replace(/\.js$/, ".ts");
      found.push({ from: relative(root, file), to: relative(root, target) });
    }
  }
  return found;
}

/** The top-level folder of a path under the root; a file at the root is its own unit ("errors"). */
export function folderOf(path: string): string {
  const [first = "", ...rest] = path.split(sep);
  return rest.length > 0 ? first : first.replace(/\.ts$/, "");
}

/** The arrows between folders, each with the files that make it. */
export function folderArrows(imports: readonly Import[]): Map<string, Map<string, Set<string>>> {
  const arrows = new Map<string, Map<string, Set<string>>>();
  for (const { from, to } of imports) {
    const [a, b] = [folderOf(from), folderOf(to)];
    if (a === b) continue;
    const out = arrows.get(a) ?? new Map<string, Set<string>>();
    arrows.set(a, out);
    out.set(b, (out.get(b) ?? new Set()).add(from));
  }
  return arrows;
}

/** The strongly connected components of more than one folder (Tarjan), each sorted. */
export function cycles(arrows: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const nodes = new Set([...arrows.keys(), ...[...arrows.values()].flatMap((out) => [...out.keys()])]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of arrows.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of [...nodes].sort()) if (!index.has(node)) visit(node);
  return found.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

/** A cycle as a failure names it: every arrow inside it, with the files that make the arrow. */
export function describeCycle(
  component: readonly string[],
  arrows: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>,
): string {
  const lines: string[] = [];
  for (const a of component) {
    for (const b of component) {
      const files = arrows.get(a)?.get(b);
      if (files) lines.push(`  ${a} -> ${b}: ${[...files].sort().join(", ")}`);
    }
  }
  return `cycle among ${component.join(", ")}:\n${lines.join("\n")}`;
}

/** Imports from one folder into another that the layering forbids, one line each. */
export function forbidden(
  imports: readonly Import[],
  rule: { from: readonly string[]; to: string },
): string[] {
  return imports
    .filter(({ from, to }) => rule.from.includes(folderOf(from)) && folderOf(to) === rule.to)
    .map(({ from, to }) => `${from} imports ${to}`)
    .sort();
}

/**
 * Imports from the `from` folders into the `into` folders that do not go through one of the
 * `through` files: a folder that may see another only by its API. One line each.
 */
export function around(
  imports: readonly Import[],
  rule: { from: readonly string[]; into: readonly string[]; through: readonly string[] },
): string[] {
  return imports
    .filter(
      ({ from, to }) =>
        rule.from.includes(folderOf(from)) && rule.into.includes(folderOf(to)) && !rule.through.includes(to),
    )
    .map(({ from, to }) => `${from} imports ${to}`)
    .sort();
}

/**
 * Arrows that do not point down `layers` (the first layer is the top): a folder imports only folders
 * of lower layers. One line each, with the files that make the arrow; a folder in no layer is named.
 */
export function upward(
  arrows: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>,
  layers: readonly (readonly string[])[],
): string[] {
  const rank = new Map(layers.flatMap((layer, i) => layer.map((folder) => [folder, i] as const)));
  const found: string[] = [];
  for (const [a, out] of arrows) {
    for (const [b, files] of out) {
      const [ra, rb] = [rank.get(a), rank.get(b)];
      if (ra === undefined || rb === undefined) found.push(`${ra === undefined ? a : b} is in no layer`);
      else if (rb <= ra) found.push(`${a} -> ${b} points up or across: ${[...files].sort().join(", ")}`);
    }
  }
  return [...new Set(found)].sort();
}
