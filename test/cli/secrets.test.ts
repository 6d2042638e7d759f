// The identifier never leaves the store through the CLI: no command prints it, in any rendering.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type CliResult, reid } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { assertNoSecretIn, renderings, storedIdentifier } from "./store.js";

describe("secrets", () => {
  it("a whole session of requests, status, config and random never shows an identifier", async (t) => {
    const { store } = tempDir(t);
    const session: [args: string[], exitCode: number][] = [
      [["status"], 6],
      [["init"], 0],
      [["status"], 0],
      [["status", "--json"], 0],
      [["init"], 3],
      [["--json", "init"], 3],
      [["reset"], 0],
      [["reset", "--json"], 0],
      [["config"], 0],
      [["config", "single-type", "on", "--json"], 0],
      [["init", "--json"], 0],
      [["erase"], 0],
      [["config", "single-type", "off"], 0],
      [["erase", "--json"], 0],
      [["erase"], 3],
      [["init", "--format", "digits:50"], 0],
      [["status"], 0],
      [["reset", "--format", "base32", "--json"], 0],
      [["--json", "status"], 0],
      [["reset", "--format", "raw:64"], 0],
      [["random", "--bytes", "64", "--json"], 0],
      [["random", "--bytes", "4096", "--hex"], 0],
      [["random", "--bytes", "4096"], 0],
      [["--source", "device:/dev/zero", "reset"], 5],
      [["--source", "device:/dev/zero", "--json", "init"], 3],
      [["--source", "device:/dev/urandom", "reset", "--json"], 0],
      [["reset", "--format", "raw:8"], 2],
      [["help"], 0],
      [["init", "--help"], 0],
      [["--version"], 0],
      [["status", "--json"], 0],
      [["erase"], 0],
      [["status", "--json"], 0],
    ];
    const outputs: [what: string, result: CliResult][] = [];
    const identifiers: Uint8Array[] = [];
    for (const [args, exitCode] of session) {
      const result = await reid(["--store", store, ...args]);
      const what = `reid ${args.join(" ")}`;
      assert.equal(result.code, exitCode, `${what} exited ${result.code}: ${result.stderr.trim()}`);
      outputs.push([what, result]);
      const identifier = existsSync(join(store, "area-0")) ? storedIdentifier(store) : null;
      if (identifier && !identifiers.some((known) => Buffer.from(known).equals(identifier))) {
        identifiers.push(identifier);
      }
    }
    // init, reset x2, single-type init and erase (raw:32), digits:50, base32:64, raw:64, the device one.
    assert.equal(identifiers.length, 9, "identifiers the session went through");
    for (const [what, result] of outputs) assertNoSecretIn(result, identifiers, what);
  });

  it("the leak check itself finds an identifier in any of its renderings", () => {
    // Guards the guard: if renderings() or the scan were broken, the test above would pass vacuously.
    const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
    for (const form of renderings(secret)) {
      const output = { stdoutBytes: Buffer.concat([Buffer.from("x "), form, Buffer.from("\n")]), stderr: "" };
      assert.throws(() => assertNoSecretIn(output, [secret], "probe"), /shows identifier #0/);
      const onStderr = { stdoutBytes: Buffer.alloc(0), stderr: `reid: ${form.toString("latin1")}` };
      if (/^[\x20-\x7e]+$/.test(form.toString("latin1"))) {
        assert.throws(() => assertNoSecretIn(onStderr, [secret], "probe"), /stderr shows/);
      }
    }
    assert.doesNotThrow(() =>
      assertNoSecretIn({ stdoutBytes: Buffer.from("nothing here"), stderr: "" }, [secret], "probe"),
    );
  });
});
