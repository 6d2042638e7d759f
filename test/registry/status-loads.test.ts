// docs/spec.md §10: the registry's heavy parts (kysely, better-sqlite3 and its native addon,
// @peculiar/x509) load only when a registry command runs; `reid status` never resolves them. A
// recorder notes every module the real CLI loads; `reid registry init` under the same recorder
// shows that it sees them when they are loaded.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const RECORDER = fileURLToPath(new URL("./record-loads.mjs", import.meta.url));
const REGISTRY_MODULES = [
  /\/node_modules\/kysely\//,
  /\/node_modules\/better-sqlite3\//,
  /\/node_modules\/@peculiar\/x509\//,
];

/** The modules `reid ARGS` resolved, and which of the registry's it resolved. */
async function loadsOf(
  t: TestContext,
  args: readonly string[],
): Promise<{ all: string[]; registry: string[] }> {
  const { dir } = tempDir(t, "reid-loads-");
  const file = join(dir, "loads.txt");
  await reidOk(args, { env: { NODE_OPTIONS: `--import=${RECORDER}`, REID_LOADS_FILE: file } });
  const all = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const registry = REGISTRY_MODULES.filter((pattern) => all.some((url) => pattern.test(url))).map(String);
  return { all, registry };
}

describe("what the registry costs the other commands", () => {
  test("reid status resolves none of kysely, better-sqlite3 or @peculiar/x509", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const { all, registry } = await loadsOf(t, ["--store", store, "status"]);
    // The record is there at all: the start-up path's file, which holds status, was resolved.
    assert.ok(
      all.some((url) => /\/dist\/chunks\/core\.cjs$/.test(url)),
      "the recorder saw nothing",
    );
    assert.deepEqual(registry, []);
  });

  test("reid registry init resolves all three (the recorder sees them when they load)", async (t) => {
    const { dir } = tempDir(t);
    const { registry } = await loadsOf(t, ["registry", "init", "--dir", join(dir, "fleet")]);
    assert.deepEqual(registry, REGISTRY_MODULES.map(String));
  });
});
