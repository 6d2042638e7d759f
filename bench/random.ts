// Health-tested throughput of `reid random` against raw randomFillSync in the same run: once
// in-process (source -> SP 800-90B tests -> FIFO -> caller) and once end to end through the CLI.
// Usage: node --import tsx bench/random.ts [--seconds 1] [--rounds 5]
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { openRandomSupply, SUPPLY_PROFILES } from "../src/entropy/open.js";
import { OsSource } from "../src/entropy/os-source.js";
import { argument, since } from "./stats.js";

const seconds = Number(argument("seconds", "1"));
const rounds = Number(argument("rounds", "5"));
const CHUNK = 1 << 16;

const supply = openRandomSupply(new OsSource(), SUPPLY_PROFILES.stream);
const out = new Uint8Array(CHUNK);

async function rate(step: () => void | Promise<void>): Promise<number> {
  let bytes = 0;
  const start = process.hrtime.bigint();
  while (since(start) < seconds) {
    await step();
    bytes += CHUNK;
  }
  return bytes / since(start) / 1e9;
}

const raw: number[] = [];
const tested: number[] = [];
for (let round = 0; round < rounds; round++) {
  raw.push(await rate(() => void randomFillSync(out)));
  tested.push(await rate(() => supply.fifo.readInto(out)));
}
await supply.close();

const best = (xs: number[]) => Math.max(...xs);
console.log(`randomFillSync (no tests):          ${best(raw).toFixed(2)} GB/s`);
console.log(
  `health-tested FIFO (in-process):    ${best(tested).toFixed(2)} GB/s  = ${(best(tested) / best(raw)).toFixed(2)} of raw (goal >= 1.5 GB/s)`,
);

const cli = new URL("../dist/reid.js", import.meta.url).pathname;
const bytes = 1 << 30;
const start = process.hrtime.bigint();
const run = spawnSync(process.execPath, [cli, "random", "--bytes", "1G"], {
  stdio: ["ignore", "ignore", "inherit"],
});
const elapsed = since(start);
if (run.status !== 0) throw new Error(`reid random exited ${run.status} (build first: npm run build)`);
console.log(
  `reid random --bytes 1G > /dev/null: ${(bytes / elapsed / 1e9).toFixed(2)} GB/s (whole process, start-up included)`,
);
