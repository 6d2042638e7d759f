import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

/** A private directory removed when the test ends; `store` is a not-yet-existing store path in it. */
export function tempDir(t: TestContext, prefix = "reid-test-"): { dir: string; store: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: join(dir, "store") };
}

/** Writes a 0600 file (secret files must be private to be read at all) and returns its path. */
export function secretFile(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}
