import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARTIFACTS = join(ROOT, ".test-artifacts");

let outDir: string | undefined;
const compiled = new Map<string, Promise<string>>();

/**
 * Compiles test/fixtures/NAME.ts (and the src it imports) into one runnable ESM file, so a child
 * process starts as fast as the built CLI and without tsx. Each fixture is built once per
 * process, into a private directory under .test-artifacts/ that is removed when the process exits.
 * Returns the path to run with `node PATH ...`.
 */
export function compileFixture(name: string): Promise<string> {
  let pending = compiled.get(name);
  if (!pending) {
    pending = bundle(name);
    compiled.set(name, pending);
    // A failed build is not cached: the next caller gets the error again, freshly.
    pending.catch(() => compiled.delete(name));
  }
  return pending;
}

async function bundle(name: string): Promise<string> {
  if (basename(name) !== name || name.endsWith(".ts")) throw new RangeError(`bad fixture name '${name}'`);
  const outfile = join(privateDirectory(), `${name}.mjs`);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "test", "fixtures", `${name}.ts`)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "inline",
    logLevel: "silent",
  });
  return outfile;
}

function privateDirectory(): string {
  if (outDir === undefined) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const dir = mkdtempSync(join(ARTIFACTS, `fixtures-${process.pid}-`));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    outDir = dir;
  }
  return outDir;
}
