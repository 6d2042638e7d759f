// What `reid status` costs beyond starting Node itself: both run as fresh processes, interleaved.
// Usage: node --import tsx bench/startup.ts [--runs 40]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argument, ms, percentile, ratio, since } from "./stats.js";

const runs = Number(argument("runs", "40"));
const cli = new URL("../dist/reid.js", import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), "reid-bench-startup-"));
const store = join(base, "store");

function time(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: "ignore" });
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}`);
  return since(start);
}

time([cli, "init", "--store", store]);
const node: number[] = [];
const status: number[] = [];
for (let i = 0; i < runs; i++) {
  node.push(time(["-e", "0"]));
  status.push(time([cli, "status", "--store", store]));
}
rmSync(base, { recursive: true, force: true });
const [n50, s50] = [percentile(node, 50), percentile(status, 50)];
console.log(`node -e 0:   p50 ${ms(n50)}`);
console.log(`reid status: p50 ${ms(s50)}  = ${ratio(s50, n50)} of bare node (+${ms(s50 - n50)})`);
