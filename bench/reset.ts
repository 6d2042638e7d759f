// Durable reset latency against the floor the storage itself sets, measured in the same run:
// two pwrite + fdatasync of one record's size, which is what a crash-safe replace must cost.
// Usage: node --import tsx bench/reset.ts [--dir DIR] [--rounds 10] [--per-round 200]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openElement } from "../src/element/element.js";
import { AREA_SIZE } from "../src/storage/record.js";
import { argument, ms, percentile, ratio, since } from "./stats.js";

const base = mkdtempSync(join(argument("dir", tmpdir()), "reid-bench-reset-"));
const rounds = Number(argument("rounds", "10"));
const perRound = Number(argument("per-round", "200"));

const floorFds = [0, 1].map((i) => openSync(join(base, `floor-${i}`), "w+", 0o600));
const record = new Uint8Array(AREA_SIZE).fill(0xa5);
function floorOnce(): void {
  for (const fd of floorFds) {
    writeSync(fd, record, 0, record.length, 0);
    fdatasyncSync(fd);
  }
}

const element = await openElement({
  storeDirectory: join(base, "store"),
  source: { kind: "os" },
  write: true,
  lockTimeoutMs: 1000,
});
await element.control.submit({ type: "init" });
floorOnce();

const floor: number[] = [];
const reset: number[] = [];
// Interleaved rounds, so both figures see the same disk and the same neighbours.
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < perRound; i++) {
    const start = process.hrtime.bigint();
    floorOnce();
    floor.push(since(start));
  }
  for (let i = 0; i < perRound; i++) {
    const start = process.hrtime.bigint();
    await element.control.submit({ type: "reset" });
    reset.push(since(start));
  }
}
await element.close();
for (const fd of floorFds) closeSync(fd);
rmSync(base, { recursive: true, force: true });

const [f50, f99, r50, r99] = [
  percentile(floor, 50),
  percentile(floor, 99),
  percentile(reset, 50),
  percentile(reset, 99),
];
console.log(`floor (2 x pwrite ${AREA_SIZE} B + fdatasync): p50 ${ms(f50)}  p99 ${ms(f99)}`);
console.log(`durable reset:                       p50 ${ms(r50)}  p99 ${ms(r99)}  (${reset.length} resets)`);
console.log(`durable reset / floor: p50 ${ratio(r50, f50)} (goal <= 1.50x)  p99 ${ratio(r99, f99)}`);
