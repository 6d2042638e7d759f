// docs/spec.md §10.2: a `reid registry init` killed at any moment leaves the target as it was
// (absent) or a whole registry, never a half-made one that a second init would trip over or, worse,
// accept. The real CLI is SIGKILLed at moments spread over its writing (from the instant its
// private build directory appears), and after every kill the target is judged and init is run again.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync, watch } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { REID, reid, reidOk } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

/** Delays after the build directory appears; its writing takes about 100 to 200 ms here. */
const KILL_DELAYS_MS = [0, 5, 10, 20, 30, 45, 60, 70, 80, 90, 100, 110, 125, 150, 300];

/** Starts init of `target` and SIGKILLs it `delayMs` after its build directory appears in `parent`. */
async function initKilled(parent: string, target: string, delayMs: number): Promise<string> {
  const watcher = watch(parent);
  const appeared = new Promise<void>((resolve) => {
    watcher.on("change", (_event, name) => {
      if (String(name).startsWith(".fleet.init-")) resolve();
    });
  });
  const child = spawn(process.execPath, [REID, "registry", "init", "--dir", target], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const done = finished(child);
  // A child that finishes before the watcher sees anything is not killed at all.
  await Promise.race([appeared, done]);
  watcher.close();
  await sleep(delayMs);
  child.kill("SIGKILL");
  const { code, signal } = await done;
  return signal === "SIGKILL" ? "killed" : `exited ${code}`;
}

/** "absent", "whole" (it passes for a registry), or what is wrong with it. */
async function judge(target: string): Promise<string> {
  if (!existsSync(target)) return "absent";
  const token = await reid(["registry", "token", "create", "--dir", target]);
  if (token.code !== 0) return `half-made: token create exited ${token.code}: ${token.stderr.trim()}`;
  const files = readdirSync(target).filter((f) => !f.startsWith("registry.db-"));
  const expected = ["ca.key", "ca.pem", "operator.token", "registry.db", "registry.json"];
  expected.push("server.key", "server.pem", "statements.key");
  return JSON.stringify(files.sort()) === JSON.stringify(expected)
    ? "whole"
    : `half-made: ${files.join(", ")}`;
}

test("a SIGKILLed init leaves nothing or a whole registry, and a second init then does the right thing", async (t) => {
  const outcomes: string[] = [];
  for (const delay of KILL_DELAYS_MS) {
    const { dir } = tempDir(t, "reid-registry-kill-");
    const target = join(dir, "fleet");
    const how = await initKilled(dir, target, delay);
    const state = await judge(target);
    outcomes.push(`${delay} ms: ${how}, ${state}`);
    assert.ok(state === "absent" || state === "whole", `after a kill ${delay} ms in: ${state}`);
    const again = await reid(["registry", "init", "--dir", target]);
    if (state === "whole") {
      assert.equal(again.code, 3, "a second init accepted a directory holding a registry");
    } else {
      assert.equal(again.code, 0, `a second init after a kill failed: ${again.stderr}`);
      assert.equal(await judge(target), "whole");
    }
    // The killed run's build directory is gone: the second init swept it.
    assert.deepEqual(readdirSync(dir), ["fleet"]);
  }
  t.diagnostic(outcomes.join("; "));
  assert.ok(
    outcomes.some((o) => o.includes("killed, absent")),
    "no kill landed before the registry was in place",
  );
});

test("the judge refuses a half-made registry: one missing its configuration, one missing a key", async (t) => {
  const { dir } = tempDir(t, "reid-registry-kill-");
  const target = join(dir, "fleet");
  await reidOk(["registry", "init", "--dir", target]);
  assert.equal(await judge(target), "whole");
  rmSync(join(target, "statements.key"));
  assert.match(await judge(target), /^half-made: /);
  rmSync(join(target, "registry.json"));
  assert.match(await judge(target), /^half-made: token create exited 3/);
});
