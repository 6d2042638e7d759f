// The known-bad check for the fault shim itself: configured on a scratch file, it makes a child's
// plain fs calls fail with the chosen errno, counts calls for FAULT_NTH, and leaves every other
// file (the child's own stdout included) alone. If the shim stopped loading or matching, the other
// tests in test/faults would pass vacuously; these fail instead.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { ERRNO, type Fault, faultEnv, readFaultLog } from "../helpers/faults.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

/**
 * Runs a few fs calls in a child node process on `file`, each in a try, and reports on stdout the
 * error code of each call ("ok" when it worked), one JSON array. Calls: "write" ("XX" at offset 4
 * with writeSync and a position: pwrite), "append" ("YYYY" with writeSync and no position: write,
 * at the file offset, 0), "writev" ("ZZZZ" at offset 6: pwritev), "fsync", "fdatasync", "open-rw",
 * "open-r". The file is opened for writing on its first use.
 */
async function child(file: string, calls: readonly string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const script = `
    const fs = require("node:fs");
    const [file, ...calls] = process.argv.slice(1);
    let opened;
    const fd = () => (opened ??= fs.openSync(file, "r+"));
    const results = [];
    for (const call of calls) {
      try {
        if (call === "write") fs.writeSync(fd(), Buffer.from("XX"), 0, 2, 4);
        else if (call === "append") fs.writeSync(fd(), "YYYY");
        else if (call === "writev") fs.writevSync(fd(), [Buffer.from("ZZ"), Buffer.from("ZZ")], 6);
        else if (call === "fsync") fs.fsyncSync(fd());
        else if (call === "fdatasync") fs.fdatasyncSync(fd());
        else if (call === "open-rw") fs.closeSync(fs.openSync(file, "r+"));
        else if (call === "open-r") fs.closeSync(fs.openSync(file, "r"));
        results.push("ok");
      } catch (error) {
        results.push(error.code);
      }
    }
    process.stdout.write(JSON.stringify(results) + "\\n");
  `;
  const proc = spawn(process.execPath, ["-e", script, file, ...calls], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { code, stdout, stderr } = await finished(proc);
  assert.equal(code, 0, `the child failed: ${stderr}`);
  return JSON.parse(stdout.toString()) as string[];
}

function scratch(t: TestContext): string {
  const file = join(tempDir(t, "reid-shim-").dir, "scratch-file");
  writeFileSync(file, "0123456789");
  return file;
}

async function run(t: TestContext, calls: string[], fault: Omit<Fault, "path"> & { path?: string }) {
  const file = scratch(t);
  const results = await child(file, calls, await faultEnv({ path: file, ...fault }));
  return { file, results };
}

describe("fault shim (known-bad check)", () => {
  it("fails write, pwrite and writev on the matching file with EIO and writes nothing", async (t) => {
    const { file, results } = await run(t, ["write", "append", "writev", "fsync"], { op: "write" });
    assert.deepEqual(results, ["EIO", "EIO", "EIO", "ok"]);
    assert.equal(readFileSync(file, "utf8"), "0123456789", "a failed write must not reach the file");
  });

  it("fails writes with ENOSPC when told to", async (t) => {
    const { results } = await run(t, ["write", "append"], { op: "write", errno: ERRNO.ENOSPC });
    assert.deepEqual(results, ["ENOSPC", "ENOSPC"]);
  });

  it("fails fsync and fdatasync with EIO and lets writes through", async (t) => {
    const { file, results } = await run(t, ["write", "fsync", "fdatasync"], { op: "fsync" });
    assert.deepEqual(results, ["ok", "EIO", "EIO"]);
    assert.equal(readFileSync(file, "utf8"), "0123XX6789");
  });

  it("fails opening for writing (EROFS) and lets opening for reading through", async (t) => {
    const { results } = await run(t, ["open-r", "open-rw"], { op: "open", errno: ERRNO.EROFS });
    assert.deepEqual(results, ["ok", "EROFS"]);
  });

  it("with FAULT_NTH fails only the Nth matching call, and logs every matching call", async (t) => {
    const log = join(tempDir(t, "reid-shim-log-").dir, "log");
    const { results } = await run(t, ["write", "fsync", "write", "fdatasync"], {
      op: ["write", "fsync"],
      nth: 3,
      log,
    });
    assert.deepEqual(results, ["ok", "ok", "EIO", "ok"]);
    const lines = readFaultLog(log);
    assert.deepEqual(
      lines.map((line) => [line.n, line.failed]),
      [
        [1, false],
        [2, false],
        [3, true],
        [4, false],
      ],
    );
    assert.deepEqual(
      lines.map((line) => line.call),
      ["pwrite64", "fsync", "pwrite64", "fdatasync"],
    );
    assert.ok(lines.every((line) => line.path.endsWith("scratch-file")));
  });

  it("with FAULT_NTH and FAULT_FROM fails the Nth matching call and every later one", async (t) => {
    const { results } = await run(t, ["write", "fsync", "write", "fdatasync"], {
      op: ["write", "fsync"],
      nth: 2,
      from: true,
    });
    assert.deepEqual(results, ["ok", "EIO", "EIO", "EIO"]);
  });

  it("fails nothing when FAULT_PATH does not match the file", async (t) => {
    const { file, results } = await run(t, ["write", "append", "writev", "fsync", "fdatasync", "open-rw"], {
      op: ["write", "fsync", "open"],
      path: "/no/such/reid/path",
    });
    assert.deepEqual(results, ["ok", "ok", "ok", "ok", "ok", "ok"]);
    assert.equal(readFileSync(file, "utf8"), "YYYYXXZZZZ");
  });

  it("fails nothing when FAULT_PATH is empty, even for every op", async (t) => {
    const { results } = await run(t, ["write", "fsync", "open-rw"], {
      op: ["write", "fsync", "open"],
      path: "",
    });
    assert.deepEqual(results, ["ok", "ok", "ok"]);
  });
});
