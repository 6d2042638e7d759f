// The fleet registry's cost (issue 14), each figure beside a floor measured in the same run:
// - new enrollments per second: a real `reid registry serve` child process (dist/reid.js), EST
//   simpleenroll over keep-alive HTTPS from 32 concurrent clients, each with its own single-use
//   token and the CSR of an element's derived Ed25519 key (made before the clock starts). Goal
//   >= 1,000/s on this 2-core machine;
// - successions per second: each of those devices reset once, POST /v1/succession with the
//   statement its old key signs and its new key countersigns and the new key's CSR (made before
//   the clock starts), from 32 concurrent clients. Goal >= 800/s.
//   Its floors: the bare crypto of one enrollment on one core (CSR verify + certificate sign, the
//   registry's own code, no TLS, no database), and a per-request `openssl x509 -req` signing loop
//   (goal >= 20 x that loop);
// - a fleet of 1,000,000 devices on each engine, SQLite and PostgreSQL (Debian's, started in a
//   temporary directory on loopback; an engine gives its registry, store and floors):
//   - imported: a factory's NDJSON list (test/helpers/device-list.ts, one device in ten P-256) made
//     before the clock starts, recorded by a real `reid registry import` child process (every line
//     checked on a thread per core, each device listed without a certificate, certified at its
//     first enrollment; batches of 5,000 in one transaction each): devices/s as the command reports
//     it, goal >= 20,000/s, beside the floor of the same run: the same rows inserted by the
//     engine's bare driver in multi-row statements, batch by batch. And `import --certify` (each
//     device's certificate signed at import, by a thread per core) of the list's first
//     --certify-devices into an empty registry, beside the bare certificate signing on one core
//     (and twice that for two);
//   - device lookup by handle: p50 and p99 of the store's device(handle) (kysely over the driver,
//     as the server asks it) for random known handles, goal p99 <= 2 ms, beside a bare primary-key
//     read of the same rows; and at that size a keyset page of 1,000 from a random handle and
//     1,000 events since a random sequence (p50, p99).
// Usage: npm run bench -- registry, then node .bench/registry.js [--dir DIR] [--enrollments 4000]
//        [--clients 32] [--devices 1000000] [--lookups 20000] [--certify-devices 100000]
import "reflect-metadata";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import Database from "better-sqlite3";
import pg from "pg";
import { certificationRequest } from "../src/derive/certificate.js";
import { type DerivedKeys, deriveAll, handleOf } from "../src/derive/derivation.js";
import { publicKeysOf, signStatement } from "../src/derive/succession-statement.js";
import { checkRequest } from "../src/registry/csr.js";
import { type ListedDevice, readDeviceList } from "../src/registry/import/device-list.js";
import { initRegistry } from "../src/registry/init.js";
import { issueDeviceCertificate, loadSigner } from "../src/registry/issue.js";
import { openPostgresRegistry } from "../src/registry/store/postgres/open.js";
import { postgresTarget } from "../src/registry/store/postgres/url.js";
import { openSqliteRegistry } from "../src/registry/store/sqlite/open.js";
import type { RegistryStore } from "../src/registry/store/store.js";
import { hashToken, newSecretToken } from "../src/registry/tokens.js";
import { writeDeviceList } from "../test/helpers/device-list.js";
import { type Postgres, startPostgres } from "../test/helpers/postgres.js";
import { registryAgent, send } from "../test/registry/https-request.js";
import { storm } from "./load.js";
import { argument, ms, percentile, ratio, since } from "./stats.js";

const enrollments = Number(argument("enrollments", "4000"));
const clientCount = Number(argument("clients", "32"));
const deviceCount = Number(argument("devices", "1000000"));
const lookups = Number(argument("lookups", "20000"));
const certifyCount = Math.min(Number(argument("certify-devices", "100000")), deviceCount);
const root = new URL("..", import.meta.url).pathname;
const perSecond = (value: number) => Math.round(value).toLocaleString("en");

const built = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
const base = mkdtempSync(join(argument("dir", tmpdir()), "reid-bench-registry-"));
const directory = join(base, "registry");
await initRegistry({ directory, name: "bench", hosts: ["127.0.0.1"], now: new Date() });

/** An element's identity: its derived keys and the CSR of its Ed25519 key (CN = handle), DER. */
async function identity(): Promise<{ keys: DerivedKeys; csr: Uint8Array }> {
  const keys = deriveAll(randomBytes(32));
  return { keys, csr: derOfPem(await certificationRequest(keys, { algorithm: "ed25519" })) };
}

function derOfPem(pem: string): Uint8Array {
  return new Uint8Array(x509.PemConverter.decodeFirst(pem));
}

// ---- enrollments over HTTPS -------------------------------------------------------------------
const devices = await Promise.all(Array.from({ length: enrollments }, identity));
const requests = devices.map((device) => device.csr);
const tokens = Array.from({ length: enrollments }, () => newSecretToken().token);
{
  // Set-up, not measured: the tokens go in with one transaction, as `token create` would each.
  const db = new Database(join(directory, "registry.db"));
  const insert = db.prepare(
    "insert into enrollment_tokens (hash, label, created_at, expires_at) values (?, ?, ?, ?)",
  );
  const now = new Date();
  const expires = new Date(now.getTime() + 86_400_000).toISOString();
  db.transaction(() => {
    for (const token of tokens)
      insert.run(Buffer.from(hashToken(token)), "bench", now.toISOString(), expires);
  })();
  db.close();
}

const server = spawn(
  process.execPath,
  [join(root, "dist/reid.js"), "registry", "serve", "--dir", directory, "--listen", "127.0.0.1:0"],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const port = await new Promise<number>((resolve, reject) => {
  let printed = "";
  server.stdout.on("data", (chunk: Buffer) => {
    printed += chunk.toString("utf8");
    const match = /https:\/\/127\.0\.0\.1:(\d+)\//.exec(printed);
    if (match) resolve(Number(match[1]));
  });
  server.once("exit", (code) => reject(new Error(`registry serve exited ${code}`)));
});
const ca = readFileSync(join(directory, "ca.pem"), "utf8");
const agent = registryAgent(ca, clientCount);

/** One POST on the bench's keep-alive connections: its status. */
async function post(path: string, headers: Readonly<Record<string, string>>, body: string): Promise<number> {
  return (await send(port, agent, { method: "POST", path, headers, body: Buffer.from(body) })).status;
}

function enroll(i: number): Promise<number> {
  const authorization = `Basic ${Buffer.from(`bench:${tokens[i]}`).toString("base64")}`;
  const headers = { "content-type": "application/pkcs10", authorization };
  return post(
    "/.well-known/est/simpleenroll",
    headers,
    Buffer.from(requests[i] as Uint8Array).toString("base64"),
  );
}

// ---- successions: every device reset once, statements made before any clock starts (an idle
// keep-alive connection between the two storms would be closed under the client's feet) -------
const bodies = await Promise.all(
  devices.map(async ({ keys }) => {
    const next = deriveAll(randomBytes(32));
    const statement = {
      v: 1,
      type: "succession",
      registry: `https://127.0.0.1:${port}`,
      predecessor: handleOf(keys.ed25519.publicKey),
      handle: handleOf(next.ed25519.publicKey),
      publicKeys: publicKeysOf(next),
      generation: 2,
      at: new Date().toISOString(),
    } as const;
    const signed = signStatement(statement, "ed25519", keys, next);
    const csr = Buffer.from(derOfPem(await certificationRequest(next, { algorithm: "ed25519" })));
    return JSON.stringify({ ...signed, csr: csr.toString("base64") });
  }),
);
// ---- enrollments, then the successions of the same devices --------------------------------------
const warm = Math.min(clientCount * 2, Math.floor(enrollments / 10));
const json = { "content-type": "application/json" };
let enrollRate: number;
let successionRate: number;
try {
  enrollRate = await storm(enrollments, warm, clientCount, enroll);
  successionRate = await storm(enrollments, warm, clientCount, (i) =>
    post("/v1/succession", json, bodies[i] as string),
  );
} finally {
  // Whatever happened, the server goes: it holds the bench's stderr.
  agent.destroy();
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
}

// ---- floors: the bare crypto of one enrollment, and openssl x509 -req per request ------------
const signer = await loadSigner(directory);
const crlUrl = "https://127.0.0.1:8443/crl";
let bare = 0;
{
  const start = process.hrtime.bigint();
  for (const csr of requests.slice(0, 1000)) {
    const checked = checkRequest(csr);
    issueDeviceCertificate(signer, checked, { crlUrl, now: new Date() });
    bare++;
  }
  bare /= since(start);
}
const opensslCsr = join(base, "device.csr");
const opensslKey = join(base, "device.key");
spawnSync("openssl", [
  "req",
  ...["-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
  ...["-keyout", opensslKey, "-out", opensslCsr, "-subj", `/CN=${randomBytes(16).toString("hex")}`],
]);
const loops = 40;
let openssl = 0;
{
  const start = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) {
    const signed = spawnSync("openssl", [
      "x509",
      ...["-req", "-in", opensslCsr, "-CA", join(directory, "ca.pem"), "-CAkey", join(directory, "ca.key")],
      ...["-CAcreateserial", "-days", "90", "-out", "/dev/null"],
    ]);
    if (signed.status !== 0) throw new Error(`openssl x509 -req failed: ${signed.stderr}`);
  }
  openssl = loops / since(start);
}

// ---- a fleet of a million, on each engine: imported, then read --------------------------------
/**
 * A database engine the registry runs on, as the fleet figures need it: a registry of its own that
 * `reid registry import` writes (importArgs), a store on it, and the engine's own floors (the same
 * rows inserted and the same rows read without reid's layers). A second engine is a second entry.
 */
interface Engine {
  readonly name: string;
  /** Where `reid registry import` writes: its arguments besides the list. */
  readonly importArgs: readonly string[];
  /** The same of another registry, new and empty, on the same engine (for `import --certify`). */
  emptyRegistry(): Promise<readonly string[]>;
  open(): Promise<RegistryStore>;
  /** Devices/s of a bare multi-row insert of the imported rows, batch by batch as the import does. */
  bareInsertRate(batch: number): Promise<number>;
  /** Seconds each bare read of a device by handle takes. */
  bareLookups(handles: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

interface FleetFigures {
  readonly importRate: number;
  /** Devices/s of `import --certify` of the list's first certifyCount into an empty registry. */
  readonly certifyRate: number;
  readonly importWall: number;
  readonly insertFloor: number;
  readonly lookups: readonly number[];
  readonly bareLookups: readonly number[];
  readonly pages: readonly number[];
  readonly events: readonly number[];
}

const IMPORT_BATCH = 5000;
const listPath = join(base, "fleet.ndjson");
// Set-up, not measured: the factory's list, one device in ten with a P-256 key.
writeDeviceList(listPath, deviceCount, { p256Every: 10 });
const listed = readFileSync(listPath, "utf8")
  .trimEnd()
  .split("\n")
  .filter((_, i) => i % Math.max(1, Math.floor(deviceCount / lookups)) === 0)
  .map((line) => JSON.parse(line) as { handle: string });
const handles = listed.map((line) => line.handle).sort(() => Math.random() - 0.5);
const certifyPath = join(base, "certify.ndjson");
writeFileSync(certifyPath, `${readFileSync(listPath, "utf8").split("\n", certifyCount).join("\n")}\n`, {
  mode: 0o600,
});

/** `reid registry import` of `list` with `args`: its summary, checked to have imported `count`. */
function importList(engine: Engine, args: readonly string[], list: string, count: number) {
  const imported = spawnSync(
    process.execPath,
    [join(root, "dist/reid.js"), "registry", "import", ...args, list, "--json", "--batch", `${IMPORT_BATCH}`],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
  );
  if (imported.status !== 0)
    throw new Error(`reid registry import (${engine.name}) exited ${imported.status}`);
  const summary = JSON.parse(imported.stdout) as { imported: number; rate: number };
  if (summary.imported !== count) throw new Error(`${summary.imported} of ${count} imported`);
  return summary;
}

async function fleetFigures(engine: Engine): Promise<FleetFigures> {
  const start = process.hrtime.bigint();
  const summary = importList(engine, engine.importArgs, listPath, deviceCount);
  const importWall = since(start);
  const certified = importList(
    engine,
    [...(await engine.emptyRegistry()), "--certify"],
    certifyPath,
    certifyCount,
  );
  const insertFloor = await engine.bareInsertRate(IMPORT_BATCH);

  const store = await engine.open();
  const timed = async (count: number, task: (i: number) => Promise<unknown>) => {
    const timings: number[] = [];
    for (let i = 0; i < count; i++) {
      const begun = process.hrtime.bigint();
      await task(i);
      timings.push(since(begun));
    }
    return timings;
  };
  for (const handle of handles.slice(0, 1000)) await store.device(handle);
  const lookupTimings = await timed(handles.length, async (i) => {
    if (!(await store.device(handles[i] as string))) throw new Error(`device ${handles[i]} not found`);
  });
  // A keyset page of 1,000 from a random place in the fleet, and 1,000 events from a random sequence.
  const pages = await timed(200, (i) => store.devices({ after: handles[i] as string, limit: 1000 }));
  const events = await timed(200, () =>
    store.eventsSince(Math.floor(Math.random() * (deviceCount - 1000)), 1000),
  );
  await store.close();
  const bareLookups = await engine.bareLookups(handles);
  await engine.close();
  return {
    importRate: summary.rate,
    certifyRate: certified.rate,
    importWall,
    insertFloor,
    lookups: lookupTimings,
    bareLookups,
    pages,
    events,
  };
}

/** SQLite, the registry's database: a registry directory of its own for the fleet. */
async function sqliteEngine(): Promise<Engine> {
  const fleet = join(base, "fleet");
  await initRegistry({ directory: fleet, name: "bench fleet", hosts: ["127.0.0.1"], now: new Date() });
  const path = join(fleet, "registry.db");
  return {
    name: "SQLite",
    importArgs: ["--dir", fleet],
    async emptyRegistry() {
      const other = join(base, "fleet-certify");
      await initRegistry({ directory: other, name: "bench fleet", hosts: ["127.0.0.1"], now: new Date() });
      return ["--dir", other];
    },
    open: () => openSqliteRegistry(path),
    async bareInsertRate(batch) {
      // The imported rows, read back and inserted into an empty database of the same schema by
      // better-sqlite3 alone: multi-row statements of 500, one transaction a batch, WAL, NORMAL.
      const copy = join(base, "bare.db");
      await (await openSqliteRegistry(copy, { create: true })).close();
      const source = new Database(path, { readonly: true });
      const db = new Database(copy);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      const rows = 500;
      const statements = new Map<string, Database.Statement>();
      const insert = (table: string, columns: readonly string[], values: unknown[][]) => {
        const sql = `insert into ${table} (${columns.join(", ")}) values ${Array(values.length)
          .fill(`(${columns.map(() => "?").join(", ")})`)
          .join(", ")}`;
        const statement = statements.get(sql) ?? db.prepare(sql);
        statements.set(sql, statement);
        statement.run(values.flat());
      };
      const tables = [
        ["devices", ["handle", "status", "public_key", "certificate_serial", "enrolled_at", "updated_at"]],
        ["certificates", ["serial", "handle", "der", "not_before", "not_after", "status"]],
        ["events", ["type", "handle", "data", "at", "leaf"]],
      ] as const;
      const reads = tables.map(([table, columns]) =>
        source
          .prepare(`select ${columns.join(", ")} from ${table} where rowid > ? order by rowid limit ?`)
          .raw(),
      );
      let seconds = 0;
      for (let done = 0; done < deviceCount; done += batch) {
        const batchRows = reads.map((read) => read.all(done, batch) as unknown[][]);
        const begun = process.hrtime.bigint();
        db.transaction(() => {
          for (const [t, [table, columns]] of tables.entries()) {
            const values = batchRows[t] as unknown[][];
            for (let i = 0; i < values.length; i += rows) insert(table, columns, values.slice(i, i + rows));
          }
        })();
        seconds += since(begun);
      }
      source.close();
      db.close();
      return deviceCount / seconds;
    },
    async bareLookups(lookedUp) {
      const db = new Database(path, { readonly: true });
      const select = db.prepare("select * from devices where handle = ?");
      const timings: number[] = [];
      for (const handle of lookedUp) {
        const begun = process.hrtime.bigint();
        select.get(handle);
        timings.push(since(begun));
      }
      db.close();
      return timings;
    },
    close: async () => {},
  };
}

/** PostgreSQL (Debian's, in a temporary directory): a registry of its own in a database of its own. */
async function postgresEngine(server: Postgres): Promise<Engine> {
  const fleet = join(base, "fleet-pg");
  const url = await server.newDatabase();
  const target = postgresTarget(url);
  await initRegistry({
    directory: fleet,
    name: "bench fleet",
    hosts: ["127.0.0.1"],
    now: new Date(),
    database: target,
  });
  const client = async (database: string) => {
    const connected = new pg.Client({ connectionString: database });
    connected.on("error", () => {});
    await connected.connect();
    return connected;
  };
  return {
    name: "PostgreSQL",
    importArgs: ["--dir", fleet],
    async emptyRegistry() {
      const other = join(base, "fleet-pg-certify");
      await initRegistry({
        directory: other,
        name: "bench fleet",
        hosts: ["127.0.0.1"],
        now: new Date(),
        database: postgresTarget(await server.newDatabase()),
      });
      return ["--dir", other];
    },
    open: () => openPostgresRegistry(target),
    async bareInsertRate(batch) {
      // The imported rows, read back and inserted into an empty database of the same schema by pg
      // alone: multi-row statements of 500, one transaction a batch.
      const copyUrl = await server.newDatabase();
      await initRegistry({
        directory: join(base, "bare-pg"),
        name: "bare",
        hosts: ["127.0.0.1"],
        now: new Date(),
        database: postgresTarget(copyUrl),
      });
      const [source, db] = [await client(url), await client(copyUrl)];
      const rows = 500;
      const tables = [
        ["devices", ["handle", "status", "public_key", "certificate_serial", "enrolled_at", "updated_at"]],
        ["certificates", ["serial", "handle", "der", "not_before", "not_after", "status"]],
        ["events", ["type", "handle", "data", "at", "leaf"]],
      ] as const;
      let seconds = 0;
      for (let done = 0; done < deviceCount; done += batch) {
        // The batch's devices as the import wrote them, in the log's order, then their rows.
        const events = await source.query({
          text: "select type, handle, data, at, leaf from events where leaf >= $1 order by leaf limit $2",
          values: [done, batch],
          rowMode: "array",
        });
        const handles = (events.rows as unknown[][]).map((row) => row[1]);
        const batchRows: unknown[][][] = [];
        for (const [table, columns] of tables.slice(0, 2)) {
          const read = await source.query({
            text: `select ${columns.join(", ")} from ${table} where handle = any($1)`,
            values: [handles],
            rowMode: "array",
          });
          batchRows.push(read.rows as unknown[][]);
        }
        batchRows.push(events.rows as unknown[][]);
        const begun = process.hrtime.bigint();
        await db.query("begin");
        for (const [t, [table, columns]] of tables.entries()) {
          const values = batchRows[t] as unknown[][];
          for (let i = 0; i < values.length; i += rows) {
            const chunk = values.slice(i, i + rows);
            const placeholders = chunk
              .map((_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(", ")})`)
              .join(", ");
            await db.query(
              `insert into ${table} (${columns.join(", ")}) values ${placeholders}`,
              chunk.flat(),
            );
          }
        }
        await db.query("commit");
        seconds += since(begun);
      }
      await source.end();
      await db.end();
      return deviceCount / seconds;
    },
    async bareLookups(lookedUp) {
      const db = await client(url);
      const timings: number[] = [];
      for (const handle of lookedUp) {
        const begun = process.hrtime.bigint();
        await db.query({ name: "bare", text: "select * from devices where handle = $1", values: [handle] });
        timings.push(since(begun));
      }
      await db.end();
      return timings;
    },
    close: async () => {},
  };
}

// The certificate signing an import does, bare: one core, the registry's own code, no database.
let signing = 0;
{
  const keys = readFileSync(listPath, "utf8")
    .split("\n", 20_000)
    .map((line) => readDeviceList(Buffer.from(line))[0] as ListedDevice);
  const now = new Date();
  const begun = process.hrtime.bigint();
  for (const key of keys) issueDeviceCertificate(signer, key, { crlUrl, now });
  signing = keys.length / since(begun);
}
const postgres = await startPostgres();
const fleets: [string, FleetFigures][] = [];
try {
  for (const engine of [await sqliteEngine(), await postgresEngine(postgres)]) {
    fleets.push([engine.name, await fleetFigures(engine)]);
  }
} finally {
  await postgres.stop();
  rmSync(base, { recursive: true, force: true });
}

const goal = (met: boolean) => (met ? "goal met" : "goal NOT met");
console.log(
  `successions: ${perSecond(successionRate)}/s over keep-alive HTTPS, ${clientCount} clients (goal >= 800/s: ${goal(successionRate >= 800)}); each signed by the old key, countersigned by the new, with the new key's CSR`,
);
console.log(
  `enrollments: ${perSecond(enrollRate)}/s over keep-alive HTTPS, ${clientCount} clients (goal >= 1,000/s: ${goal(enrollRate >= 1000)}); ${enrollments - warm} enrollments, each its own token and Ed25519 CSR`,
);
console.log(
  `  floors: bare crypto (CSR verify + certificate sign, one core) ${perSecond(bare)}/s, ours at ${ratio(enrollRate, bare)} of it; openssl x509 -req per request ${openssl.toFixed(1)}/s, ours ${ratio(enrollRate, openssl)} of it (goal >= 20x: ${goal(enrollRate >= 20 * openssl)})`,
);
for (const [name, fleet] of fleets) {
  const [p50, p99] = [percentile(fleet.lookups, 50), percentile(fleet.lookups, 99)];
  const [b50, b99] = [percentile(fleet.bareLookups, 50), percentile(fleet.bareLookups, 99)];
  console.log(
    `lookup by handle, ${perSecond(deviceCount)} devices (${name}): p50 ${ms(p50)}  p99 ${ms(p99)} (goal p99 <= 2 ms: ${goal(p99 <= 0.002)}); bare read p50 ${ms(b50)}  p99 ${ms(b99)}, ours ${ratio(p99, b99)} at p99`,
  );
  console.log(
    `import (${name}): ${perSecond(fleet.importRate)} devices/s through reid registry import of ${perSecond(deviceCount)} devices, each listed without a certificate (certified at its first enrollment with its listed key), batches of ${perSecond(IMPORT_BATCH)}, one in ten P-256 (goal >= 20,000/s: ${goal(fleet.importRate >= 20_000)}); ${fleet.importWall.toFixed(1)} s with the process's start`,
  );
  console.log(
    `  floor: bare multi-row insert of the same rows ${perSecond(fleet.insertFloor)}/s, ours at ${ratio(fleet.importRate, fleet.insertFloor)} of it`,
  );
  console.log(
    `  import --certify (${name}): ${perSecond(fleet.certifyRate)} devices/s of ${perSecond(certifyCount)} into an empty registry, each issued its certificate at import; bare certificate signing ${perSecond(signing)}/s on one core, ${perSecond(2 * signing)}/s on two, ours at ${ratio(fleet.certifyRate, 2 * signing)} of that`,
  );
  console.log(
    `  reads at that size (${name}): a keyset page of 1,000 devices p50 ${ms(percentile(fleet.pages, 50))}  p99 ${ms(percentile(fleet.pages, 99))}; 1,000 events since N p50 ${ms(percentile(fleet.events, 50))}  p99 ${ms(percentile(fleet.events, 99))}`,
  );
}
