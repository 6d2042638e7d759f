// The daemon's cost (issue 4): status requests per second over its Unix socket, and resets per
// second through it against resets done directly in-process on the same disk, in the same run.
// The daemon is a real `reid serve` child process (dist/reid.js, built first); the clients are
// RemoteElement (src/daemon/client.ts, keep-alive), as the CLI and tests use it.
// Usage: node --import tsx bench/daemon.ts [--dir DIR] [--seconds 1] [--in-flight 16]
//        [--rounds 20] [--per-round 50] [--reset-clients 8]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RemoteElement } from "../src/daemon/client.js";
import { openElement } from "../src/element/element.js";
import { ElementService } from "../src/element/service.js";
import { startServe } from "../test/helpers/daemon.js";
import { argument, ms, percentile, since } from "./stats.js";

const seconds = Number(argument("seconds", "1"));
const inFlight = Number(argument("in-flight", "16"));
const rounds = Number(argument("rounds", "20"));
const perRound = Number(argument("per-round", "50"));
const resetClients = Number(argument("reset-clients", "8"));

const root = new URL("..", import.meta.url).pathname;
const built = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);

// A writer on a store not made yet holds its parent's lock (docs/spec.md §5.5): each store here
// has a parent of its own.
const base = mkdtempSync(join(argument("dir", tmpdir()), "reid-bench-daemon-"));
const daemon = await startServe(join(base, "served", "store"));
const direct = new ElementService(
  await openElement({
    storeDirectory: join(base, "direct", "store"),
    source: { kind: "os" },
    write: true,
    lockTimeoutMs: 1000,
  }),
);

/** Clients with `count` requests in flight in all: one keep-alive connection each. */
function clients(count: number): RemoteElement[] {
  return Array.from({ length: count }, () => new RemoteElement(daemon.socket));
}

/** Requests per second while every caller sends `call` back to back for `seconds`. */
async function throughput(callers: RemoteElement[], call: (c: RemoteElement) => Promise<unknown>) {
  let done = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  await Promise.all(
    callers.map(async (client) => {
      while (process.hrtime.bigint() < deadline) {
        await call(client);
        done++;
      }
    }),
  );
  return done / since(start);
}

/**
 * `n` resets spread over `callers` (each one at a time): the seconds they took in all, and each
 * reset's latency.
 */
async function resets(n: number, callers: readonly { submit: ElementService["submit"] }[]) {
  let left = n;
  const latencies: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(
    callers.map(async (caller) => {
      while (left > 0) {
        left--;
        const begin = process.hrtime.bigint();
        await caller.submit("reset");
        latencies.push(since(begin));
      }
    }),
  );
  return { seconds: since(start), latencies };
}

try {
  // ---- status over the socket ----
  const statusCallers = clients(inFlight);
  const one = clients(1);
  await throughput(statusCallers, (c) => c.status()); // warm-up: connections, JIT
  const statusRates: number[] = [];
  const singleRates: number[] = [];
  for (let round = 0; round < 5; round++) {
    statusRates.push(await throughput(statusCallers, (c) => c.status()));
    singleRates.push(await throughput(one, (c) => c.status()));
  }

  // ---- resets: direct in-process vs through the daemon, interleaved rounds on the same disk ----
  // The three ways take turns in every round (in a rotating order), so each sees the same disk
  // and the same neighbours; rates are totals over all rounds, latencies are medians.
  const sequential = clients(1);
  const concurrent = clients(resetClients);
  await direct.submit("init");
  await sequential[0]?.submit("init");
  const ways = {
    direct: { callers: [direct], seconds: 0, latencies: [] as number[] },
    daemon: { callers: concurrent, seconds: 0, latencies: [] as number[] },
    "daemon, one at a time": { callers: sequential, seconds: 0, latencies: [] as number[] },
  };
  for (const way of Object.values(ways)) await resets(20, way.callers); // warm-up
  const order = Object.values(ways);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < order.length; i++) {
      const way = order[(round + i) % order.length] as (typeof order)[number];
      const { seconds: took, latencies } = await resets(perRound, way.callers);
      way.seconds += took;
      way.latencies.push(...latencies);
    }
  }
  const [served, local] = await Promise.all([sequential[0]?.status(), direct.status()]);

  for (const c of [...statusCallers, ...one, ...sequential, ...concurrent]) await c.close();

  const median = (xs: number[]) => percentile(xs, 50);
  const fmt = (x: number) => x.toFixed(0);
  const status = median(statusRates);
  console.log(
    `status over the socket: ${fmt(status)} req/s with ${inFlight} in flight (goal >= 5000/s)` +
      ` [rounds ${statusRates.map(fmt).join(", ")}]; one at a time: ${fmt(median(singleRates))} req/s` +
      ` (${ms(1 / median(singleRates))} round trip)`,
  );
  const rate = (way: { seconds: number }) => (rounds * perRound) / way.seconds;
  const d = rate(ways.direct);
  const c = rate(ways.daemon);
  const s = rate(ways["daemon, one at a time"]);
  console.log(
    `resets through the daemon: ${fmt(c)}/s, direct: ${fmt(d)}/s, ratio ${(c / d).toFixed(2)} (goal >= 0.8)` +
      ` [${resetClients} clients in flight]`,
  );
  console.log(
    `resets through the daemon, one client one at a time: ${fmt(s)}/s, ratio ${(s / d).toFixed(2)} to direct`,
  );
  for (const name of ["direct", "daemon, one at a time"] as const) {
    const way = ways[name];
    const [p50, p99] = [percentile(way.latencies, 50), percentile(way.latencies, 99)];
    console.log(`  ${`${name}:`.padEnd(24)} reset latency p50 ${ms(p50)}  p99 ${ms(p99)}`);
  }
  console.log(
    `(${rounds} rounds x ${perRound} resets each way; final generations: daemon ${served?.generation}, direct ${local.generation})`,
  );
} finally {
  await direct.close();
  const stopped = await daemon.stop();
  rmSync(base, { recursive: true, force: true });
  if (stopped.code !== 0) {
    console.error(`reid serve exited ${stopped.code ?? stopped.signal}: ${stopped.stderr.toString()}`);
    process.exitCode = 1;
  }
}
