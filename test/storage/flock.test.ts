// flock(2) as the store's lock takes it: fs-ext's addon, loaded directly (docs/spec.md §5.5), must
// lock exactly what fs-ext's own wrapper locks in another process, exclusively and shared, and let
// go when the descriptor is closed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { loadFlock, tryFlock } from "../../src/storage/flock.js";
import { tempDir } from "../helpers/temp.js";

const FS_EXT = createRequire(import.meta.url).resolve("fs-ext");

/** What another process gets when it tries `flags` on `dir` through fs-ext itself: "locked" or the error code. */
function elsewhere(dir: string, flags: "exnb" | "shnb"): string {
  const script = `
    const fd = require("node:fs").openSync(${JSON.stringify(dir)}, "r");
    try { require(${JSON.stringify(FS_EXT)}).flockSync(fd, ${JSON.stringify(flags)}); process.stdout.write("locked"); }
    catch (error) { process.stdout.write(String(error.code)); }`;
  const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function openDir(dir: string): number {
  return openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
}

describe("flock(2) through fs-ext's addon", () => {
  it("an exclusive lock here is busy to fs-ext in another process, and to a second open here, until closed", (t) => {
    const { dir } = tempDir(t);
    const flock = loadFlock();
    const fd = openDir(dir);
    try {
      assert.equal(tryFlock(flock, fd), true);
      assert.equal(elsewhere(dir, "exnb"), "EAGAIN");
      assert.equal(elsewhere(dir, "shnb"), "EAGAIN");
      const second = openDir(dir);
      try {
        assert.equal(tryFlock(flock, second, true), false);
      } finally {
        closeSync(second);
      }
    } finally {
      closeSync(fd);
    }
    assert.equal(elsewhere(dir, "exnb"), "locked");
  });

  it("a shared lock here lets fs-ext share it, never take it exclusively", (t) => {
    const { dir } = tempDir(t);
    const fd = openDir(dir);
    try {
      assert.equal(tryFlock(loadFlock(), fd, true), true);
      assert.equal(elsewhere(dir, "shnb"), "locked");
      assert.equal(elsewhere(dir, "exnb"), "EAGAIN");
    } finally {
      closeSync(fd);
    }
  });
});
