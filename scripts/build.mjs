// Builds the CLI: the health tests' WebAssembly, then the ESM bundle (scripts/bundle-cli.mjs): the
// start-up path in one file, the rest in chunks loaded on demand, so `reid status` loads two files
// and never the TRNG, while nothing is compiled at run time.
import { chmodSync, cpSync, renameSync, rmSync } from "node:fs";
import { bundleCli } from "./bundle-cli.mjs";
import "./build-wasm.mjs";

const root = new URL("..", import.meta.url).pathname;

// Built aside and swapped in, so a test run reading dist/ never sees half a build.
const fresh = `dist.building-${process.pid}`;
const stale = `dist.stale-${process.pid}`;
await bundleCli(root, `${root}${fresh}`);
chmodSync(`${root}${fresh}/reid.js`, 0o755);
// The pages' files ship inside dist/, so an installed package serves them too (src/http/browser/static-files.ts).
cpSync(`${root}src/web/static`, `${root}${fresh}/static`, { recursive: true });
cpSync(`${root}src/registry/page/static`, `${root}${fresh}/operator-static`, { recursive: true });
cpSync(`${root}src/http/browser/static`, `${root}${fresh}/browser-static`, { recursive: true });
try {
  renameSync(`${root}dist`, `${root}${stale}`);
} catch {}
renameSync(`${root}${fresh}`, `${root}dist`);
rmSync(`${root}${stale}`, { recursive: true, force: true });
