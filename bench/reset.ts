// Durable reset latency against the floor the storage itself sets, measured in the same run:
// two pwrite + fdatasync of one record's size, which is what a crash-safe replace must cost.
// Two figures: the durable commit (entropy -> FIFO -> identifier -> A/B commit, both syncs waited
// for), goal <= 1.5x the floor, and the whole audited reset as the daemon runs it, goal <= 3x: the
// element composed with its bindings (none here), the handle derived (docs/spec.md §4.2, OpenSSL's
// Ed25519), its intent naming it appended to the audit log before anything changes and carried,
// with the log's other unsynced lines, in the commit's own durable write, and the commit; the
// intent is the reset's one record (docs/spec.md §9.3; the log itself is synced about once in
// twenty-two operations).
// Usage: npm run bench -- reset (the code as it ships: bundled as dist/ is, scripts/run-bench.mjs),
// then node .bench/reset.js [--dir DIR] [--rounds 10] [--per-round 200] to run it again.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openComposedElement } from "../src/daemon/compose.js";
import { openRandomSupply, SUPPLY_PROFILES } from "../src/entropy/open.js";
import { OsSource } from "../src/entropy/os-source.js";
import { AREA_SIZE } from "../src/storage/record.js";
import { openFileStore } from "../test/helpers/stores.js";
import { argument, ms, percentile, ratio, since } from "./stats.js";

// A writer on a store not made yet holds its parent's lock (docs/spec.md §5.5): each store here
// has a parent of its own.
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

const store = await openFileStore(join(base, "commits", "store"), { write: true, lockTimeoutMs: 1000 });
const supply = openRandomSupply(new OsSource(), SUPPLY_PROFILES.identifier);
let generation = 0;
/** What a reset costs the storage: a fresh identifier from the FIFO, committed crash-safely. */
async function commitOnce(): Promise<void> {
  const identifier = await supply.fifo.read(32);
  generation++;
  await store.commit({
    state: "set",
    generation,
    format: { kind: "raw", length: 32 },
    singleType: false,
    // Any handle will do for the storage's cost; the full reset below derives the real one.
    handle: "5eed5eed5eed5eed5eed5eed5eed5eed",
    identifier,
  });
  identifier.fill(0);
}

const element = await openComposedElement({
  storeDirectory: join(base, "element", "store"),
  source: { kind: "os" },
  write: true,
  claim: true,
  lockTimeoutMs: 1000,
});
await element.control.submit({ type: "init" });
await commitOnce();
floorOnce();

const floor: number[] = [];
const commit: number[] = [];
const reset: number[] = [];
async function time(into: number[], step: () => void | Promise<void>): Promise<void> {
  for (let i = 0; i < perRound; i++) {
    const start = process.hrtime.bigint();
    await step();
    into.push(since(start));
  }
}
// Interleaved rounds, so every figure sees the same disk and the same neighbours.
for (let round = 0; round < rounds; round++) {
  await time(floor, floorOnce);
  await time(commit, commitOnce);
  await time(reset, () => element.control.submit({ type: "reset" }).then(() => undefined));
}
await element.close();
await store.close();
await supply.close();
for (const fd of floorFds) closeSync(fd);
rmSync(base, { recursive: true, force: true });

const p = (xs: number[]) => [percentile(xs, 50), percentile(xs, 99)] as const;
const [f50, f99] = p(floor);
const [c50, c99] = p(commit);
const [r50, r99] = p(reset);
console.log(`floor (2 x pwrite ${AREA_SIZE} B + fdatasync):  p50 ${ms(f50)}  p99 ${ms(f99)}`);
console.log(`durable reset (entropy + A/B commit): p50 ${ms(c50)}  p99 ${ms(c99)}  (${commit.length})`);
console.log(`durable reset / floor: p50 ${ratio(c50, f50)} (goal <= 1.50x)  p99 ${ratio(c99, f99)}`);
console.log(
  `full reset (audited, as the daemon): p50 ${ms(r50)}  p99 ${ms(r99)}  = ${ratio(r50, f50)} of the floor (goal <= 3.00x)`,
);
