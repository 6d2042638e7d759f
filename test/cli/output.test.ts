// stdout that fails: a reader that goes away ends a command quietly, a full disk is one line (exit 1).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { describe, it, type TestContext } from "node:test";
import { assertOneLineError, reid } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/** Runs `reid ARGS > /dev/full` (every write fails with ENOSPC). */
const TO_FULL_DISK = ["bash", "-c", '"$@" > /dev/full', "bash"];
/** Runs `reid ARGS | true` (the reader is gone before reid writes: EPIPE); exits with reid's status. */
const TO_GONE_READER = ["bash", "-c", 'set -o pipefail; "$@" | true', "bash"];

const COMMANDS: readonly (readonly string[])[] = [
  ["status"],
  ["--json", "status"],
  ["init"],
  ["--json", "reset"],
  ["help"],
  ["--help"],
  ["status", "--help"],
  ["--version"],
  ["config"],
  ["random", "--bytes", "100", "--json"],
  ["random", "--bytes", "1M"],
  ["random", "--bytes", "1M", "--hex"],
];

/** A store never initialized (its directory, empty): the commands that read one have one. */
function emptyStore(t: TestContext): string {
  const { store } = tempDir(t);
  mkdirSync(store, { mode: 0o700 });
  return store;
}

describe("stdout that fails", { concurrency: 4 }, () => {
  for (const args of COMMANDS) {
    it(`reid ${args.join(" ")} > /dev/full: exit 1, one line naming the failure`, async (t) => {
      const store = emptyStore(t);
      const result = await reid(["--store", store, ...args], { prefix: TO_FULL_DISK });
      assertOneLineError(result, 1, /cannot write to stdout: no space left on device/);
      if (args.includes("--json")) assert.match(result.stderr, /^\{"error":\{"code":"output-failed"/);
    });

    it(`reid ${args.join(" ")} | true: ends quietly`, async (t) => {
      const store = emptyStore(t);
      const result = await reid(["--store", store, ...args], { prefix: TO_GONE_READER });
      assert.equal(result.stderr, "", "a reader that went away is not an error");
      assert.equal(result.code, 0);
    });
  }
});
