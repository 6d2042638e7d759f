// A registry made by the real `reid registry init`, and devices put into it the way the registry
// will: P-256 keys and certificates signed by the registry's own CA (read from its ca.key), stored
// through the RegistryStore. A bulk load writes thousands with the store's own statements in one
// transaction, so a fleet larger than a page costs a fraction of a second.
import "reflect-metadata";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import * as x509 from "@peculiar/x509";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { appendEvent, insertCertificate, insertDevice } from "../../src/registry/store/kysely-store.js";
import type { RegistrySchema } from "../../src/registry/store/schema.js";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import type { NewCertificate, RegistryStore } from "../../src/registry/store/store.js";
import { REID, reidOk } from "../helpers/cli.js";

const crypto = webcrypto;
const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

/** A new registry in a temporary directory; removeRegistry takes it away. */
export async function makeRegistry(): Promise<string> {
  const directory = join(mkdtempSync(join(tmpdir(), "reid-operator-")), "fleet");
  await reidOk(["registry", "init", "--dir", directory]);
  return directory;
}

export function removeRegistry(directory: string | undefined): void {
  if (directory) rmSync(dirname(directory), { recursive: true, force: true });
}

export function openStore(directory: string): Promise<RegistryStore> {
  return openSqliteRegistry(join(directory, "registry.db"));
}

/** The time `seconds` after a fixed moment, as the store records times. */
export function time(seconds: number): string {
  return new Date(Date.parse("2027-03-01T08:00:00.000Z") + seconds * 1000).toISOString();
}

export interface Identity {
  readonly handle: string;
  readonly publicKey: Uint8Array;
  readonly certificate: NewCertificate;
}

export interface Authority {
  /** A new device key and its certificate from the registry's CA, valid for a year from `at`. */
  issue(at: string): Promise<Identity>;
}

export async function registryAuthority(directory: string): Promise<Authority> {
  const ca = new x509.X509Certificate(readFileSync(join(directory, "ca.pem"), "utf8"));
  const pkcs8 = x509.PemConverter.decodeFirst(readFileSync(join(directory, "ca.key"), "utf8"));
  const signingKey = await crypto.subtle.importKey("pkcs8", pkcs8, P256, false, ["sign"]);
  return {
    async issue(at) {
      const keys = (await crypto.subtle.generateKey(P256, true, [
        "sign",
        "verify",
      ])) as webcrypto.CryptoKeyPair;
      const handle = randomHex(16);
      const serial = `4${randomHex(15)}`;
      const notAfter = new Date(Date.parse(at) + 365 * 86_400_000).toISOString();
      const certificate = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial,
          subject: [{ CN: [handle] }],
          issuer: ca.subjectName,
          notBefore: new Date(at),
          notAfter: new Date(notAfter),
          publicKey: keys.publicKey,
          signingKey,
          signingAlgorithm: SIGNING,
          extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
        },
        crypto,
      );
      assert.ok(
        await certificate.verify({ publicKey: ca, signatureOnly: true }, crypto),
        "the CA did not sign it",
      );
      return {
        handle,
        publicKey: new Uint8Array(certificate.publicKey.rawData),
        certificate: { serial, der: new Uint8Array(certificate.rawData), notBefore: at, notAfter },
      };
    },
  };
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/**
 * One device reset `length - 1` times: its first identity enrolled and each next one succeeding
 * the one before, `step` seconds apart from `start`. The identities, first first.
 */
export async function enrollChain(
  store: RegistryStore,
  authority: Authority,
  length: number,
  start = 0,
  step = 100,
): Promise<Identity[]> {
  const chain: Identity[] = [];
  for (let i = 0; i < length; i++) {
    const at = time(start + i * step);
    const identity = await authority.issue(at);
    const predecessor = chain[i - 1]?.handle;
    if (predecessor) await store.succeed({ ...identity, predecessor, at });
    else await store.enroll({ ...identity, at });
    chain.push(identity);
  }
  return chain;
}

/**
 * `count` devices enrolled in one transaction with the store's own statements, each with its event;
 * those `revoked(i)` picks are then revoked, as store.revoke does. One real certificate's DER serves
 * them all (only its serial, the key of the certificates table, differs). Returns the handles.
 */
export async function bulkEnroll(
  directory: string,
  authority: Authority,
  count: number,
  revoked: (index: number) => boolean,
): Promise<{ all: string[]; revoked: string[] }> {
  const template = await authority.issue(time(0));
  const db = new Kysely<RegistrySchema>({
    dialect: new SqliteDialect({ database: new Database(join(directory, "registry.db")) }),
  });
  const all: string[] = [];
  const serials: string[] = [];
  const gone: string[] = [];
  try {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < count; i++) {
        const handle = randomHex(16);
        const certificate = { ...template.certificate, serial: `5${randomHex(15)}` };
        const device = { handle, publicKey: template.publicKey, certificate, at: time(i) };
        await insertDevice(trx, device, null);
        await insertCertificate(trx, handle, certificate);
        await appendEvent(trx, "enrolled", handle, { serial: certificate.serial }, device.at);
        all.push(handle);
        serials.push(certificate.serial);
      }
      for (const [i, handle] of all.entries()) {
        if (!revoked(i)) continue;
        const at = time(count + i);
        await trx
          .updateTable("devices")
          .set({ status: "revoked", updated_at: at })
          .where("handle", "=", handle)
          .execute();
        await trx
          .updateTable("certificates")
          .set({ status: "revoked", revocation_reason: "keyCompromise", revoked_at: at })
          .where("handle", "=", handle)
          .execute();
        await appendEvent(trx, "revoked", handle, { serial: serials[i], reason: "keyCompromise" }, at);
        gone.push(handle);
      }
    });
  } finally {
    await db.destroy();
  }
  return { all, revoked: gone };
}

/** Every row of the device, certificate and event tables: what a refused command must leave alone. */
export function databaseRows(directory: string): unknown {
  const raw = new Database(join(directory, "registry.db"), { readonly: true });
  try {
    return ["devices", "certificates", "events", "enrollment_tokens"].map((table) =>
      raw.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all(),
    );
  } finally {
    raw.close();
  }
}

/** Runs raw SQL against the registry's database, as damage or a test's shortcut would. */
export function rawSql(directory: string, task: (db: Database.Database) => void): void {
  const raw = new Database(join(directory, "registry.db"));
  try {
    task(raw);
  } finally {
    raw.close();
  }
}

/** A long-running `reid ARGS` whose stdout lines are read as they come. */
export function follower(args: readonly string[]) {
  const child = spawn(process.execPath, [REID, ...args], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const seen: string[] = [];
  let stderr = "";
  let wake = () => {};
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    seen.push(line);
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      resolve({ code, signal });
      wake();
    }),
  );
  return {
    /** The lines once there are `count` of them; a follower that ends or says nothing for 30 s fails. */
    async lines(count: number): Promise<string[]> {
      const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
      try {
        while (seen.length < count) {
          if (child.exitCode !== null || child.signalCode !== null) {
            assert.fail(`the follower ended after ${seen.length} lines: ${stderr}`);
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
        return [...seen];
      } finally {
        clearTimeout(deadline);
      }
    },
    async stop(signal: NodeJS.Signals) {
      child.kill(signal);
      return this.ended();
    },
    /** Its exit, once it ends by itself; one that runs on for 30 s more is killed. */
    async ended() {
      const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const end = await exited;
      clearTimeout(deadline);
      return { ...end, stderr, lines: seen.length };
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
