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
// - device lookup by handle with 1,000,000 devices in the database: p50 and p99 of the store's
//   device(handle) (kysely over better-sqlite3, as the server asks it) for random known handles,
//   goal p99 <= 2 ms, beside a bare better-sqlite3 primary-key read of the same rows.
// Usage: npm run bench -- registry, then node .bench/registry.js [--dir DIR] [--enrollments 4000]
//        [--clients 32] [--devices 1000000] [--lookups 20000]
import "reflect-metadata";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import Database from "better-sqlite3";
import { certificationRequest } from "../src/derive/certificate.js";
import { type DerivedKeys, deriveAll, handleOf } from "../src/derive/derivation.js";
import { publicKeysOf, signStatement } from "../src/derive/succession-statement.js";
import { checkRequest } from "../src/registry/csr.js";
import { initRegistry } from "../src/registry/init.js";
import { issueDeviceCertificate, loadSigner } from "../src/registry/issue.js";
import { openSqliteRegistry } from "../src/registry/store/sqlite/open.js";
import { hashToken, newSecretToken } from "../src/registry/tokens.js";
import { registryAgent, send } from "../test/registry/https-request.js";
import { argument, ms, percentile, ratio, since } from "./stats.js";

const enrollments = Number(argument("enrollments", "4000"));
const clientCount = Number(argument("clients", "32"));
const deviceCount = Number(argument("devices", "1000000"));
const lookups = Number(argument("lookups", "20000"));
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

/** `count` calls of `call(i)` from `clientCount` clients at once, after `warm` of them: calls/s. */
async function storm(count: number, warm: number, call: (i: number) => Promise<number>): Promise<number> {
  // Warm-up: connections made and the server's code hot before the clock starts.
  await Promise.all(Array.from({ length: warm }, (_, i) => call(i)));
  let next = warm;
  const refused: number[] = [];
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clientCount }, async () => {
      for (let i = next++; i < count; i = next++) {
        const status = await call(i);
        if (status !== 200) refused.push(status);
      }
    }),
  );
  const rate = (count - warm) / since(started);
  if (refused.length > 0) throw new Error(`${refused.length} refused (statuses ${[...new Set(refused)]})`);
  return rate;
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
  enrollRate = await storm(enrollments, warm, enroll);
  successionRate = await storm(enrollments, warm, (i) => post("/v1/succession", json, bodies[i] as string));
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

// ---- lookups in a fleet of a million ------------------------------------------------------------
const fleetPath = join(base, "fleet.db");
const handles: string[] = [];
{
  await (await openSqliteRegistry(fleetPath, { create: true })).close();
  // Set-up, not measured: rows written in bulk, one certificate's bytes standing for each.
  const db = new Database(fleetPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const der = Buffer.from(derOfPem(readFileSync(join(directory, "server.pem"), "utf8")));
  const key = Buffer.alloc(44, 7);
  const device = db.prepare(
    "insert into devices (handle, status, public_key, certificate_serial, enrolled_at, updated_at) values (?, 'active', ?, ?, ?, ?)",
  );
  const certificate = db.prepare(
    "insert into certificates (serial, handle, der, not_before, not_after, status) values (?, ?, ?, ?, ?, 'valid')",
  );
  const at = new Date().toISOString();
  const later = new Date(Date.now() + 90 * 86_400_000).toISOString();
  const batch = 50_000;
  for (let start = 0; start < deviceCount; start += batch) {
    db.transaction(() => {
      for (let i = start; i < Math.min(deviceCount, start + batch); i++) {
        const handle = randomBytes(16).toString("hex");
        const serial = `1${i.toString(16).padStart(31, "0")}`;
        device.run(handle, key, serial, at, at);
        certificate.run(serial, handle, der, at, later);
        if (i % Math.max(1, Math.floor(deviceCount / lookups)) === 0) handles.push(handle);
      }
    })();
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}
const shuffled = handles.sort(() => Math.random() - 0.5);
const store = await openSqliteRegistry(fleetPath);
const timings: number[] = [];
for (const handle of shuffled.slice(0, 1000)) await store.device(handle);
for (const handle of shuffled) {
  const start = process.hrtime.bigint();
  const device = await store.device(handle);
  timings.push(since(start));
  if (!device) throw new Error(`device ${handle} not found`);
}
await store.close();
const bareTimings: number[] = [];
{
  const db = new Database(fleetPath, { readonly: true });
  const select = db.prepare("select * from devices where handle = ?");
  for (const handle of shuffled) {
    const start = process.hrtime.bigint();
    select.get(handle);
    bareTimings.push(since(start));
  }
  db.close();
}
rmSync(base, { recursive: true, force: true });

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
const [p50, p99] = [percentile(timings, 50), percentile(timings, 99)];
const [b50, b99] = [percentile(bareTimings, 50), percentile(bareTimings, 99)];
console.log(
  `lookup by handle, ${perSecond(deviceCount)} devices: p50 ${ms(p50)}  p99 ${ms(p99)} (goal p99 <= 2 ms: ${goal(p99 <= 0.002)}); bare better-sqlite3 read p50 ${ms(b50)}  p99 ${ms(b99)}, ours ${ratio(p99, b99)} at p99`,
);
