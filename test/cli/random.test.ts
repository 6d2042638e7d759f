// `reid random`: exactly the bytes asked for, from the health-tested source, to stdout.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REID, reidJson, reidOk } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

const K = 1024;
const M = 1024 * 1024;

describe("reid random --bytes N", { concurrency: true }, () => {
  const counts: [text: string, bytes: number][] = [
    ["1", 1],
    ["2", 2],
    ["65535", 65535],
    ["65536", 65536],
    ["65537", 65537],
    ["64K", 64 * K],
    ["64KiB", 64 * K],
    ["1M", M],
    ["1MiB", M],
    ["3000001", 3000001],
  ];
  for (const [text, bytes] of counts) {
    it(`--bytes ${text} writes exactly ${bytes} bytes`, async (t) => {
      const { store } = tempDir(t);
      const result = await reidOk(["--store", store, "random", "--bytes", text]);
      assert.equal(result.stdoutBytes.length, bytes);
      assert.equal(result.stderr, "");
      assert.equal(existsSync(store), false, "random touched the store");
    });
  }

  for (const [text, bytes] of [
    ["1", 1],
    ["65537", 65537],
    ["1M", M],
  ] as const) {
    it(`--bytes ${text} --hex writes ${2 * bytes} lowercase hex digits and a newline`, async () => {
      const result = await reidOk(["random", "--bytes", text, "--hex"]);
      assert.equal(result.stdout.length, 2 * bytes + 1);
      assert.match(result.stdout, /^[0-9a-f]+\n$/);
    });
  }

  it("--json gives the bytes as hex in one object", async () => {
    const json = await reidJson(["random", "--bytes", "100"]);
    assert.equal(json.bytes, 100);
    assert.match(String(json.hex), /^[0-9a-f]{200}$/);
  });

  it("two runs differ, and the bytes are not constant", async () => {
    const [a, b] = await Promise.all([
      reidOk(["random", "--bytes", "32"]),
      reidOk(["random", "--bytes", "32"]),
    ]);
    assert.equal(a.stdoutBytes.length, 32);
    assert.ok(!a.stdoutBytes.equals(b.stdoutBytes), "two runs gave the same 32 bytes");
    const big = (await reidOk(["random", "--bytes", "64K"])).stdoutBytes;
    const counts = new Array<number>(256).fill(0);
    for (const byte of big) counts[byte] = (counts[byte] ?? 0) + 1;
    // 65536 uniform bytes: 256 expected per value; 400 is more than 9 standard deviations out.
    assert.ok(Math.max(...counts) < 400, "one byte value dominates the output");
    assert.ok(Math.min(...counts) > 120, "some byte value is missing");
  });

  it("a device source can serve random bytes", async () => {
    const result = await reidOk(["--source", "device:/dev/urandom", "random", "--bytes", "5000"]);
    assert.equal(result.stdoutBytes.length, 5000);
  });
});

/** `reid ARGS | head -c N`: stdout closes early; returns what reid wrote to stderr, its exit, and N. */
function pipeToHead(
  args: readonly string[],
  keep: number,
): Promise<{ code: number | null; signal: string | null; stderr: string; kept: number }> {
  const script = `"$@" | head -c ${keep} | wc -c; exit "\${PIPESTATUS[0]}"`;
  const child = spawn("bash", ["-c", script, "bash", process.execPath, REID, ...args], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so the safety net below takes reid down with the shell.
    detached: true,
  });
  const safetyNet = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 30_000);
  return finished(child).then(({ code, signal, stdout, stderr }) => {
    clearTimeout(safetyNet);
    return { code, signal, stderr: stderr.toString(), kept: Number(stdout.toString().trim()) };
  });
}

describe("reid random with a reader that goes away", { concurrency: true }, () => {
  for (const args of [
    ["random", "--bytes", "10M"],
    ["random", "--bytes", "10M", "--hex"],
    // Far more than could be produced before the safety timeout: it must stop when the reader does.
    ["random", "--bytes", "1024G"],
    ["random", "--bytes", "1024G", "--hex"],
  ]) {
    it(`reid ${args.join(" ")} | head -c 100 ends quietly`, async (t) => {
      const { dir } = tempDir(t);
      const result = await pipeToHead(["--store", join(dir, "store"), ...args], 100);
      assert.equal(result.signal, null, "killed (by the safety timeout?)");
      assert.equal(result.kept, 100);
      assert.equal(result.stderr, "", "an early close is not an error");
      assert.equal(result.code, 0, "reid's exit status in the pipeline");
    });
  }
});
