import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import Database from "better-sqlite3";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { REID, reidJson, reidOk } from "./cli.js";
import { type Finished, finished } from "./process.js";

/**
 * A registry made by the real CLI in a private temporary directory, with the verifier key of its
 * identity log that init printed; `remove` when done.
 */
export async function makeRegistry(): Promise<{ root: string; dir: string; logKey: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), "reid-est-"));
  const dir = join(root, "registry");
  const { logKey } = await reidJson<{ logKey: string }>(["registry", "init", "--dir", dir]);
  return { root, dir, logKey, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** `POST /.well-known/est/simpleenroll` of a base64 CSR with an enrollment token, as any EST client sends it. */
export function estEnroll(
  scratch: string,
  base: string,
  ca: string,
  csr: string,
  token: string,
): Promise<Answer> {
  return curl(scratch, `${base}/.well-known/est/simpleenroll`, {
    ca,
    body: csr,
    args: ["-H", "Content-Type: application/pkcs10", "-u", `any:${token}`],
  });
}

export async function newToken(dir: string): Promise<string> {
  return (await reidJson<{ token: string }>(["registry", "token", "create", "--dir", dir])).token;
}

/** `node dist/reid.js registry serve` on an ephemeral port of 127.0.0.1. */
export interface ServedRegistry {
  readonly pid: number;
  readonly port: number;
  readonly base: string;
  readonly line: string;
  /** SIGTERM; resolves with its exit. */
  stop(): Promise<Finished>;
  /** SIGKILL: a crash. */
  kill(): Promise<Finished>;
  readonly exited: Promise<Finished>;
}

/** `env`: more of the server's environment (a fault shim's, say); `nodeFlags`: node's own (a bench's profiler). */
export async function serveRegistry(
  dir: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: readonly string[] = [],
): Promise<ServedRegistry> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, REID, "registry", "serve", "--dir", dir, "--listen", "127.0.0.1:0", ...args],
    {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = finished(child);
  let printed = "";
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk.toString("utf8");
      if (printed.includes("\n")) resolve(printed.split("\n")[0] as string);
    });
    exited.then(
      (gone) => reject(new Error(`registry serve exited ${gone.code}: ${gone.stderr.toString()}`)),
      reject,
    );
  });
  const port = Number(/https:\/\/127\.0\.0\.1:(\d+)\//.exec(line)?.[1]);
  assert.ok(port > 0, `no port in '${line}'`);
  const pid = child.pid as number;
  return {
    pid,
    port,
    base: `https://127.0.0.1:${port}`,
    line,
    exited,
    stop: () => {
      process.kill(pid, "SIGTERM");
      return exited;
    },
    kill: () => {
      process.kill(pid, "SIGKILL");
      return exited;
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: string;
  readonly body: Buffer;
}

/**
 * curl as an independent HTTPS client: `args` go before the URL (e.g. -u, --cert, -H); `body`
 * is posted with --data-binary. The answer's status, headers and body.
 */
export async function curl(
  scratch: string,
  url: string,
  options: {
    readonly args?: readonly string[];
    readonly body?: string | Buffer;
    readonly ca: string;
    /** A transfer that fails (the server went away) answers status 0 instead of failing the test. */
    readonly mayFail?: boolean;
  },
): Promise<Answer> {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const [headersFile, bodyFile] = [join(scratch, `h-${tag}`), join(scratch, `b-${tag}`)];
  const args = ["-sS", "--cacert", options.ca, "-D", headersFile, "-o", bodyFile, "-w", "%{http_code}"];
  if (options.body !== undefined) {
    const sent = join(scratch, `s-${tag}`);
    writeFileSync(sent, options.body);
    args.push("--data-binary", `@${sent}`);
  }
  const child = spawn("curl", [...args, ...(options.args ?? []), url], { stdio: ["ignore", "pipe", "pipe"] });
  const done = await finished(child);
  if (done.code !== 0 && options.mayFail) return { status: 0, headers: "", body: Buffer.alloc(0) };
  assert.equal(done.code, 0, `curl failed: ${done.stderr.toString()}`);
  const answer = {
    status: Number(done.stdout.toString()),
    headers: readFileSync(headersFile, "utf8"),
    body: readFileSync(bodyFile),
  };
  rmSync(headersFile, { force: true });
  rmSync(bodyFile, { force: true });
  return answer;
}

export function openssl(args: readonly string[], input?: string | Buffer): { ok: boolean; out: string } {
  const result = spawnSync("openssl", args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` };
}

/** A new key (openssl genpkey) at `path`: "ed25519", "p256" or "rsa". */
export function newKey(path: string, type: "ed25519" | "p256" | "rsa"): string {
  const args =
    type === "ed25519"
      ? ["-algorithm", "ed25519"]
      : type === "p256"
        ? ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        : ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
  const made = openssl(["genpkey", ...args, "-out", path]);
  assert.ok(made.ok, made.out);
  return path;
}

/** reid's handle of an Ed25519 key, computed by openssl: SHA-256 of the raw key, first 16 bytes. */
export function ed25519Handle(keyPath: string): string {
  const spki = spawnSync("openssl", ["pkey", "-in", keyPath, "-pubout", "-outform", "DER"]).stdout;
  const digest = spawnSync("openssl", ["dgst", "-sha256", "-binary"], { input: spki.subarray(-32) }).stdout;
  return digest.subarray(0, 16).toString("hex");
}

/** `openssl req -new` with subject CN=`cn`, as base64 DER: an EST request body. */
export function csrBase64(keyPath: string, cn: string): string {
  const der = spawnSync("openssl", ["req", "-new", "-key", keyPath, "-subj", `/CN=${cn}`, "-outform", "DER"]);
  assert.equal(der.status, 0, der.stderr.toString());
  return `${der.stdout.toString("base64").replace(/.{1,64}/g, "$&\n")}`;
}

/** The certificates of a base64 certs-only PKCS#7 answer, as openssl prints them (PEM). */
export function pkcs7Certificates(body: Buffer): string {
  const printed = openssl(
    ["pkcs7", "-inform", "DER", "-print_certs"],
    Buffer.from(body.toString("utf8"), "base64"),
  );
  assert.ok(printed.ok, printed.out);
  return printed.out;
}

/**
 * A registry made and served for one describe block (its before and after hooks are registered
 * where this is called), with its CA pin. A test that restarts the server puts the new one in
 * `served`.
 */
export interface SuiteRegistry {
  root: string;
  dir: string;
  served: ServedRegistry;
  pin: string;
  /** The verifier key of its identity log, as registry init printed it. */
  logKey: string;
}

export function registryForSuite(): SuiteRegistry {
  const fixture = {} as SuiteRegistry;
  let remove = () => {};
  before(async () => {
    const made = await makeRegistry();
    remove = made.remove;
    fixture.root = made.root;
    fixture.dir = made.dir;
    fixture.logKey = made.logKey;
    fixture.served = await serveRegistry(made.dir);
    fixture.pin = JSON.parse(readFileSync(join(made.dir, "registry.json"), "utf8")).caFingerprint;
  });
  after(async () => {
    await fixture.served?.stop();
    remove();
  });
  return fixture;
}

/**
 * An element made in the suite's directory under `name` (`reid init` with `init`, e.g. --factory
 * puf-sim) and enrolled by the registry's pin, with `token` (a new one when not given): its handle.
 */
export async function enrolledElement(
  fixture: SuiteRegistry,
  name: string,
  alg = "ed25519",
  options: {
    readonly token?: string;
    readonly init?: readonly string[];
    /** More options of `reid enroll` (e.g. --verify). */
    readonly enroll?: readonly string[];
  } = {},
): Promise<string> {
  const store = join(fixture.root, name);
  await reidOk(["--store", store, "init", ...(options.init ?? [])]);
  const file = join(fixture.root, `${name}.token`);
  writeFileSync(file, `${options.token ?? (await newToken(fixture.dir))}\n`, { mode: 0o600 });
  const { served, pin } = fixture;
  await reidOk([
    "--store",
    store,
    "enroll",
    served.base,
    "--ca-fingerprint",
    pin,
    "--token-file",
    file,
    "--alg",
    alg,
    ...(options.enroll ?? []),
  ]);
  return (await reidJson<{ handle: string }>(["--store", store, "status"])).handle;
}

/** What `reid registry show HANDLE --json` reports of a device of the suite's registry (the fields the tests read). */
export interface DeviceReport {
  readonly device: { readonly status: string; readonly certificateSerial: string };
  readonly certificate: { readonly revocationReason: string | null };
  readonly chain: readonly { readonly handle: string; readonly status: string }[];
}

export function showDevice(fixture: SuiteRegistry, handle: string): Promise<DeviceReport> {
  return reidJson<DeviceReport>(["registry", "show", handle, "--dir", fixture.dir]);
}

/**
 * Every row of every table of the registry's database, as text: what a change shows in, and what
 * must not name a secret or an unlinked identity. Not the identity log's own tables: a running
 * server's integrator writes them on its own, a pass after each event, from the events (which are
 * here) and nothing else.
 */
export function registryTables(dir: string): string {
  const db = new Database(join(dir, "registry.db"), { readonly: true });
  try {
    const names = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not in ('log_checkpoints', 'log_hashes')",
      )
      .all() as { name: string }[];
    return names
      .map(({ name }) =>
        JSON.stringify(db.prepare(`select * from "${name}"`).all(), (_key, value) =>
          Buffer.isBuffer(value) ? value.toString("hex") + value.toString("base64") : value,
        ),
      )
      .join("\n");
  } finally {
    db.close();
  }
}

/** The CRL the suite's registry serves now (GET /crl), as a PEM file in the suite's directory. */
export async function servedCrl(fixture: SuiteRegistry): Promise<string> {
  const answer = await curl(fixture.root, `${fixture.served.base}/crl`, { ca: join(fixture.dir, "ca.pem") });
  assert.equal(answer.status, 200);
  const pem = openssl(["crl", "-inform", "DER"], answer.body);
  assert.ok(pem.ok, pem.out);
  const path = join(fixture.root, `crl-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(path, pem.out);
  return path;
}

/** Whether openssl verifies the certificate `pem` against the registry's CA, with -crl_check against `crl` when given. */
export function verifiesAtRegistry(fixture: SuiteRegistry, pem: string, crl?: string): boolean {
  const path = join(fixture.root, `cert-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(path, pem);
  const check = crl ? ["-crl_check", "-CRLfile", crl] : [];
  return openssl(["verify", "-CAfile", join(fixture.dir, "ca.pem"), ...check, path]).ok;
}

/** `request`'s answer, once the store shows the same devices and events after it as before: a refusal changed nothing. */
export async function unchangedBy<T>(store: RegistryStore, request: () => Promise<T>): Promise<T> {
  const snapshot = async () => ({ devices: await store.devices(), events: await store.eventsSince(0) });
  const before = await snapshot();
  const answer = await request();
  assert.deepEqual(await snapshot(), before, "a refused request changed the registry");
  return answer;
}
