// The registry at fleet scale (issue 15), each figure beside a peer measured in the same run:
// - new enrollments per second on PostgreSQL with one and with two `reid registry serve` nodes
//   (real child processes of dist/reid.js on one database, the second serving a copy of the
//   directory), EST simpleenroll over keep-alive HTTPS from 32 clients spread over the nodes, each
//   with its own single-use token and an element's Ed25519 CSR (made before the clock starts), and
//   the same load on the SQLite registry as the peer. Goal >= 1,000/s with two nodes on this 2-core
//   machine (the database, both nodes and the clients share its two cores);
// - CPU time per enrollment of each run, summed over every process and split by who spent it: the
//   nodes (with their certifying threads), the PostgreSQL server (postmaster, backends and helpers,
//   from /proc) and this process (the clients). The rate is two cores divided by that sum, less what
//   other programs on the machine take: the sum is the figure another program's load moves least;
// - time from an enrollment's answer to the identity log's first checkpoint that holds its leaf
//   (Reid-Log-Index) of each measured answer: the checkpoint polled every 10 ms, by a client on a
//   connection of its own, during the two-node load (about a hundred
//   GETs a second, which the two-node run pays and the others do not), and a sample of the inclusion
//   proofs fetched and verified against it. Goal p99 <= 1 s.
// PostgreSQL is Debian's, started in a temporary directory on a loopback port (fsync and
// synchronous_commit on, as the product runs it) and removed after; SQLite runs as the product
// runs it too (WAL, every group's commit fsync'd before it is answered).
// The nodes certify as `registry serve` does by default on this machine (on their serving thread
// with two cores, docs/spec.md §10.7 "Where the work runs").
// Usage: npm run bench -- registry-nodes, then node .bench/registry-nodes.js [--enrollments 8000]
//        [--clients 32] [--node-profiles DIR] (each node's CPU profile, node --cpu-prof, into DIR)
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificationRequest } from "../src/derive/certificate.js";
import { deriveAll } from "../src/derive/derivation.js";
import { openRegistry } from "../src/registry/directory.js";
import { initRegistry } from "../src/registry/init.js";
import { parseCheckpoint } from "../src/registry/log/checkpoint.js";
import { leafHash } from "../src/registry/log/hash.js";
import { leafOf } from "../src/registry/log/leaf.js";
import { openNote, parseVerifierKey } from "../src/registry/log/note.js";
import { verifyInclusion } from "../src/registry/log/verify.js";
import { postgresTarget } from "../src/registry/store/postgres/url.js";
import type { RegistryEvent } from "../src/registry/store/store.js";
import { hashToken, newSecretToken } from "../src/registry/tokens.js";
import { startPostgres } from "../test/helpers/postgres.js";
import { type ServedRegistry, serveRegistry } from "../test/helpers/registry.js";
import { registryAgent, send } from "../test/registry/https-request.js";
import { storm } from "./load.js";
import { cpuSeconds, ownCpuSeconds } from "./process-cpu.js";
import { argument, ms, percentile, ratio } from "./stats.js";

const enrollments = Number(argument("enrollments", "8000"));
/** Where each node writes a CPU profile of its run (node --cpu-prof), to see where its time goes. */
const profiles = argument("node-profiles", "");
const clientCount = Number(argument("clients", "32"));
const perSecond = (value: number) => Math.round(value).toLocaleString("en");
// Not measured: a server runs for days, and its first thousand requests are spent compiling its
// hot code (V8's optimiser on a core of the two); each of two nodes sees half of them.
const warm = Math.floor(enrollments / 8);

const base = mkdtempSync(join(tmpdir(), "reid-bench-nodes-"));
const postgres = await startPostgres();
// Set-up, not measured: every device's CSR, the same ones on each registry.
const csrs = await Promise.all(
  Array.from({ length: enrollments }, async () => {
    const pem = await certificationRequest(deriveAll(randomBytes(32)), { algorithm: "ed25519" });
    return pem.replace(/-----[^-]+-----|\s/g, "");
  }),
);

interface Run {
  readonly rate: number;
  /** CPU seconds per measured enrollment, by who spent them. */
  readonly cpu: Split;
  /** Per answered enrollment: when it was answered and its leaf. */
  readonly answers: readonly { at: number; leaf: number }[];
  /** The checkpoints seen while it ran: when, and their size. */
  readonly seen: readonly { at: number; size: number }[];
  readonly nodes: readonly ServedRegistry[];
  readonly ca: string;
}

/** The nodes' flags to node: with --node-profiles, its own profiler on. */
function nodeFlags(): string[] {
  return profiles === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${profiles}`];
}

interface Split {
  readonly nodes: number;
  readonly postgres: number;
  readonly clients: number;
}

/** CPU of the nodes, PostgreSQL and this process from now until the returned function is called: per call of `count`. */
function cpuFrom(pids: readonly number[]): (count: number) => Split {
  const [before, own] = [cpuSeconds(pids, postgres.port), ownCpuSeconds()];
  return (count) => {
    const after = cpuSeconds(pids, postgres.port);
    return {
      nodes: (after.nodes - before.nodes) / count,
      postgres: (after.postgres - before.postgres) / count,
      clients: (ownCpuSeconds() - own) / count,
    };
  };
}

/** `nodes` servers of the registry in `dir` (copies of it for the second and later), loaded at once. */
async function load(dir: string, nodeCount: number, watchLog: boolean): Promise<Run> {
  const tokens = Array.from({ length: enrollments }, () => newSecretToken().token);
  {
    const { store } = await openRegistry(dir);
    const now = Date.now();
    await Promise.all(
      tokens.map((token) =>
        store.createToken({
          hash: hashToken(token),
          label: "bench",
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + 86_400_000).toISOString(),
        }),
      ),
    );
    await store.close();
  }
  const nodes: ServedRegistry[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const served = n === 0 ? dir : `${dir}-node${n}`;
    if (n > 0) {
      cpSync(dir, served, { recursive: true });
      chmodSync(served, 0o700);
    }
    nodes.push(await serveRegistry(served, [], {}, nodeFlags()));
  }
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const agents = nodes.map(() => registryAgent(ca, Math.ceil(clientCount / nodeCount)));
  const answers: { at: number; leaf: number }[] = [];
  const seen: { at: number; size: number }[] = [];
  let watching = watchLog;
  // The watcher is an auditor of its own, on a connection of its own: never queued behind the load.
  const watcherAgent = registryAgent(ca, 1);
  const watcher = (async () => {
    const [node, agent] = [nodes[0] as ServedRegistry, watcherAgent];
    while (watching) {
      const note = await send(node.port, agent, { method: "GET", path: "/v1/log/checkpoint" });
      const size = Number(note.body.split("\n")[1]);
      seen.push({ at: performance.now(), size });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  let measured = (_count: number): Split => {
    throw new Error("the load's clock never started");
  };
  let measuredFrom = Number.POSITIVE_INFINITY;
  const rate = await storm(
    enrollments,
    warm,
    clientCount,
    async (i) => {
      const n = i % nodeCount;
      const authorization = `Basic ${Buffer.from(`bench:${tokens[i]}`).toString("base64")}`;
      const answer = await send(
        (nodes[n] as ServedRegistry).port,
        agents[n] as ReturnType<typeof registryAgent>,
        {
          method: "POST",
          path: "/.well-known/est/simpleenroll",
          headers: { "content-type": "application/pkcs10", authorization },
          body: Buffer.from(csrs[i] as string),
        },
      );
      if (answer.status === 200)
        answers.push({ at: performance.now(), leaf: Number(answer.headers["reid-log-index"]) });
      return answer.status;
    },
    () => {
      measured = cpuFrom(nodes.map((node) => node.pid));
      measuredFrom = performance.now();
    },
  );
  const cpu = measured(enrollments - warm);
  if (watchLog) {
    // Until the last answer's leaf is in a checkpoint.
    const last = Math.max(...answers.map((answer) => answer.leaf));
    const deadline = performance.now() + 30_000;
    while ((seen.at(-1)?.size ?? 0) <= last && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  watching = false;
  await watcher;
  for (const agent of [...agents, watcherAgent]) agent.destroy();
  // The warm-up's answers are not the load's: a thousand asked at once wait on each other.
  return { rate, cpu, answers: answers.filter((answer) => answer.at >= measuredFrom), seen, nodes, ca };
}

async function stop(run: Run): Promise<void> {
  for (const node of run.nodes) await node.stop();
}

/** Seconds from each answer to the first checkpoint seen that holds its leaf. */
function toCheckpoint(run: Run): number[] {
  return run.answers.map(({ at, leaf }) => {
    const covering = run.seen.find((sample) => sample.at >= at && sample.size > leaf);
    if (!covering) throw new Error(`leaf ${leaf} never reached a checkpoint`);
    return (covering.at - at) / 1000;
  });
}

/** A sample of the answers' inclusion proofs, fetched and verified against the newest checkpoint. */
async function proofsVerify(run: Run, dir: string): Promise<number> {
  const node = run.nodes[0] as ServedRegistry;
  const agent = registryAgent(run.ca, 4);
  try {
    const key = parseVerifierKey(
      (await send(node.port, agent, { method: "GET", path: "/v1/log/key" })).body.trim(),
    );
    const note = (await send(node.port, agent, { method: "GET", path: "/v1/log/checkpoint" })).body;
    const checkpoint = parseCheckpoint(openNote(note, key));
    const { store } = await openRegistry(dir);
    let verified = 0;
    try {
      for (const { leaf } of run.answers.filter((_, i) => i % 50 === 0)) {
        const answer = await send(node.port, agent, {
          method: "GET",
          path: `/v1/log/proof/inclusion?index=${leaf}&size=${checkpoint.size}`,
        });
        const proof = (JSON.parse(answer.body) as { hashes: string[] }).hashes.map((hash) =>
          Buffer.from(hash, "base64"),
        );
        const [event] = await store.eventsByLeaf(leaf, leaf + 1);
        verifyInclusion(
          leafHash(leafOf(event as RegistryEvent)),
          leaf,
          checkpoint.size,
          proof,
          checkpoint.root,
        );
        verified++;
      }
    } finally {
      await store.close();
    }
    return verified;
  } finally {
    agent.destroy();
  }
}

async function registry(name: string, database?: string): Promise<string> {
  const directory = join(base, name);
  await initRegistry({
    directory,
    name: `bench ${name}`,
    hosts: ["127.0.0.1"],
    now: new Date(),
    database: database === undefined ? undefined : postgresTarget(database),
  });
  return directory;
}

let sqlite: Run;
let one: Run;
let two: Run;
let verified: number;
try {
  const sqliteRun = await load(await registry("sqlite"), 1, false);
  await stop(sqliteRun);
  sqlite = sqliteRun;
  const oneRun = await load(await registry("pg1", await postgres.newDatabase()), 1, false);
  await stop(oneRun);
  one = oneRun;
  const twoDir = await registry("pg2", await postgres.newDatabase());
  two = await load(twoDir, 2, true);
  verified = await proofsVerify(two, twoDir);
  await stop(two);
} finally {
  await postgres.stop();
  rmSync(base, { recursive: true, force: true });
}

const goal = (met: boolean) => (met ? "goal met" : "goal NOT met");
const split = (run: Run) =>
  `${ms(run.cpu.nodes + run.cpu.postgres + run.cpu.clients)} (nodes ${ms(run.cpu.nodes)}, PostgreSQL ${ms(run.cpu.postgres)}, clients ${ms(run.cpu.clients)})`;
const latency = toCheckpoint(two);
const p99 = percentile(latency, 99);
console.log(
  `enrollments on PostgreSQL: 2 nodes ${perSecond(two.rate)}/s (goal >= 1,000/s: ${goal(two.rate >= 1000)}), 1 node ${perSecond(one.rate)}/s; SQLite in the same run ${perSecond(sqlite.rate)}/s: PostgreSQL with 2 nodes at ${ratio(two.rate, sqlite.rate)} of it, with 1 at ${ratio(one.rate, sqlite.rate)}; ${enrollments - warm} enrollments from ${clientCount} clients over keep-alive HTTPS`,
);
console.log(
  `CPU per enrollment, all processes: PostgreSQL 2 nodes ${split(two)}; 1 node ${split(one)}; SQLite ${split(sqlite)}`,
);
console.log(
  `answer to its leaf in a signed checkpoint (2 nodes, under that load): p50 ${ms(percentile(latency, 50))}  p99 ${ms(p99)} (goal p99 <= 1 s: ${goal(p99 <= 1)}); ${verified} inclusion proofs of answered leaves fetched and verified`,
);
