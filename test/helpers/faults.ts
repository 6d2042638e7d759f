import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { recordOfAreaFile } from "../../src/storage/file/file-area.js";
import { AREA_SIZE, type DecodedArea, decodeArea, type StoredRecord } from "../../src/storage/record.js";
import { assertOneLineError, type CliOptions, type CliResult, reidJson, reidOk } from "./cli.js";
import { finished } from "./process.js";
import { tempDir } from "./temp.js";

/** test/fixtures/faultinject.c: the LD_PRELOAD shim that fails write/fsync/open on chosen paths. */
export const SHIM_SOURCE = fileURLToPath(new URL("../fixtures/faultinject.c", import.meta.url));

export const ERRNO = { EIO: 5, EACCES: 13, ENOSPC: 28, EROFS: 30 } as const;

export type FaultOp = "write" | "fsync" | "open";

export interface Fault {
  /** Fail calls on files whose path contains this (a store directory, say). */
  readonly path: string;
  /** Which calls: write (write/pwrite/writev...), fsync (fsync/fdatasync), open (for writing). */
  readonly op: FaultOp | readonly FaultOp[];
  readonly errno?: number;
  /** Fail only the Nth matching call (1-based); absent: every matching call. */
  readonly nth?: number;
  /** With nth: fail the Nth matching call and every later one (the device dies mid-request). */
  readonly from?: boolean;
  /** A file the shim appends one line per matching call to: "<call> <n> <fail|pass> <path>". */
  readonly log?: string;
  /** The call that would fail kills the process instead (SIGKILL, before the call does anything). */
  readonly kill?: boolean;
}

let shim: Promise<string> | undefined;

/**
 * Compiles the shim with `cc` once per test file (each file runs in its own process) into a
 * private temporary directory that goes when the process exits.
 */
export function faultShim(): Promise<string> {
  shim ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "reid-faultinject-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const output = join(dir, "faultinject.so");
    try {
      await promisify(execFile)("cc", [
        "-shared",
        "-fPIC",
        "-O2",
        "-Wall",
        "-o",
        output,
        SHIM_SOURCE,
        "-ldl",
      ]);
    } catch (error) {
      const { stderr, message } = error as { stderr?: string; message: string };
      assert.fail(`cannot compile ${SHIM_SOURCE} with cc (install gcc and libc6-dev): ${stderr || message}`);
    }
    return output;
  })();
  return shim;
}

/** The environment that loads the shim into one child process with this fault configured. */
export async function faultEnv(fault: Fault): Promise<NodeJS.ProcessEnv> {
  const ops = typeof fault.op === "string" ? [fault.op] : fault.op;
  return {
    LD_PRELOAD: await faultShim(),
    FAULT_PATH: fault.path,
    FAULT_OP: ops.join(","),
    FAULT_ERRNO: String(fault.errno ?? ERRNO.EIO),
    ...(fault.nth === undefined ? {} : { FAULT_NTH: String(fault.nth) }),
    ...(fault.from ? { FAULT_FROM: "1" } : {}),
    ...(fault.log === undefined ? {} : { FAULT_LOG: fault.log }),
    ...(fault.kill ? { FAULT_KILL: "1" } : {}),
  };
}

/** The lines of a FAULT_LOG file: which matching calls the shim saw and what it did to each. */
export function readFaultLog(path: string): { call: string; n: number; failed: boolean; path: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [call = "", n = "", outcome = "", ...rest] = line.split(" ");
      return { call, n: Number(n), failed: outcome === "fail", path: rest.join(" ") };
    });
}

/**
 * Which of the store's files a storage call went to: "area" for the element itself (area-N,
 * area-N.tmp, store.json and its .tmp, and the store directory, synced after a rename), "audit" for
 * the audit log (audit.log; audit.head, of earlier versions, removed at the first append). Anything
 * else fails: a new file written by a request is something these tests must be taught about.
 */
export function fileKind(store: string, path: string): "area" | "audit" {
  if (path === store) return "area";
  const name = path.startsWith(`${store}/`) ? path.slice(store.length + 1) : null;
  if (name !== null && /^(area-[01]|store\.json|commit-counter)(\.tmp)?$/.test(name)) return "area";
  if (name !== null && /^audit\.(log|head)$/.test(name)) return "audit";
  assert.fail(`a storage call went to ${path}, neither an area file nor the audit log of ${store}`);
}

/** One record of the audit log, the fields these tests look at. */
export interface AuditLine {
  readonly seq: number;
  readonly request: string;
  readonly outcome: string;
  readonly generation: number;
  /** On an outcome: its intent's sequence number. */
  readonly of?: number;
}

/**
 * The last record a fault-free CLI run of `request` leaves (docs/spec.md §9.3): an init or reset
 * journals its intent, which names what it committed and is its one record; an erase (whose
 * generation does not move) has its outcome, `ok`, after its intent.
 */
export function assertDone(last: AuditLine | undefined, request: string, generation?: number): void {
  const journaled = request !== "erase";
  assert.deepEqual(
    [
      last?.request,
      last?.outcome,
      last?.of === undefined,
      ...(generation === undefined ? [] : [last?.generation]),
    ],
    [request, journaled ? "pending" : "ok", journaled, ...(generation === undefined ? [] : [generation])],
    `the last audit record of a fault-free ${request}`,
  );
}

/**
 * The audit log's records from its text: every line must be one whole JSON record and the text
 * must end with a newline, so a torn append (part of a line) fails. "" (no log yet) is no records.
 */
export function parseAuditLog(text: string, what: string): AuditLine[] {
  if (text === "") return [];
  assert.ok(text.endsWith("\n"), `${what}: the audit log ends in a torn line: ${text.slice(-80)}`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((line, index) => {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        assert.fail(`${what}: audit log line ${index + 1} is not JSON (torn?): ${line.slice(0, 80)}`);
      }
      assert.ok(record && typeof record === "object", `${what}: audit log line ${index + 1} is not a record`);
      const { seq, request, outcome, generation } = record as Record<string, unknown>;
      assert.equal(typeof seq, "number", `${what}: audit log line ${index + 1} has no seq`);
      assert.equal(typeof request, "string", `${what}: audit log line ${index + 1} has no request`);
      assert.equal(typeof outcome, "string", `${what}: audit log line ${index + 1} has no outcome`);
      assert.equal(typeof generation, "number", `${what}: audit log line ${index + 1} has no generation`);
      return record as AuditLine;
    });
}

/** `<store>/audit.log` read and parsed as parseAuditLog does; a missing log is no records. */
export function auditLog(store: string, what: string): AuditLine[] {
  const path = join(store, "audit.log");
  return parseAuditLog(existsSync(path) ? readFileSync(path, "utf8") : "", what);
}

/**
 * The contract for a request whose audit record could not be written (docs/spec.md §2.9): refused
 * before anything changed, exit 6, one line, saying so and naming the OS error (`cause`); with
 * --json, code "audit-failure".
 */
export function assertAuditRefusal(result: CliResult, request: string, cause: RegExp): void {
  assertOneLineError(
    result,
    6,
    new RegExp(
      `${request} was refused, nothing changed: its audit record could not be written: .*${cause.source}`,
    ),
  );
  if (result.stderr.startsWith("{")) {
    const { error } = JSON.parse(result.stderr) as { error: { code: string } };
    assert.equal(error.code, "audit-failure");
  }
}

/** The store's temporary files (area-N.tmp, store.json.tmp); a missing store has none. */
export function tmpFiles(store: string): string[] {
  return existsSync(store) ? readdirSync(store).filter((name) => name.endsWith(".tmp")) : [];
}

export interface StoreSnapshot {
  /** The record in force (the valid one with the highest epoch), or null when none is. */
  readonly current: StoredRecord | null;
  /** What each area file decodes as; null for a missing file. */
  readonly areas: readonly [DecodedArea | null, DecodedArea | null];
  /** Raw area bytes, to scan for a secret; null for a missing file. */
  readonly raw: readonly [Uint8Array | null, Uint8Array | null];
}

/** Reads a file store's two areas the way a load would, straight from the files (as root). */
export function snapshot(store: string): StoreSnapshot {
  const raw = ([0, 1] as const).map((index) => {
    const path = join(store, `area-${index}`);
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : null;
  }) as [Uint8Array | null, Uint8Array | null];
  const areas = raw.map((bytes) => (bytes ? decodeArea(recordOfAreaFile(bytes)) : null)) as [
    DecodedArea | null,
    DecodedArea | null,
  ];
  let current: StoredRecord | null = null;
  for (const area of areas) {
    if (area?.kind === "record" && (current === null || area.record.epoch > current.epoch))
      current = area.record;
  }
  return { current, areas, raw };
}

export interface Status {
  readonly state: "blank" | "set";
  readonly generation: number;
}

/** `reid status --json` (exit 0 asserted) on a store. */
export function status(store: string, options: CliOptions = {}): Promise<Status> {
  return reidJson<Status>(["--store", store, "status"], options);
}

/** Where a fault test starts: a store holding an identifier, an erased one, or none yet. */
export type Start = "set" | "erased" | "fresh";

/**
 * The starting stores of a suite, made once before its tests (in the suite that calls this):
 * "set" after init and `resets` resets, "erased" a copy of it, erased. Returns how a test gets its
 * own copy of one ("fresh": a store path not yet made). Removed when the suite ends.
 */
export function startingStores(prefix: string, resets: number): (t: TestContext, start: Start) => string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}base-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bases: Partial<Record<Start, string>> = {};
  before(async () => {
    const set = join(dir, "set");
    await reidOk(["--store", set, "init"]);
    for (let i = 0; i < resets; i++) await reidOk(["--store", set, "reset"]);
    const erased = copyStore(set, join(dir, "erased"));
    await reidOk(["--store", erased, "erase"]);
    bases.set = set;
    bases.erased = erased;
  });
  return (t, start) => {
    const { dir: own, store } = tempDir(t, prefix);
    const base = bases[start];
    return base ? copyStore(base, join(own, "store")) : store;
  };
}

/** A copy of a store (mode kept), for tests that each need the same starting point. */
export function copyStore(from: string, to: string): string {
  cpSync(from, to, { recursive: true, preserveTimestamps: true });
  return to;
}

/** Every area file has a size the file area makes, and decodes as a record or as erased. */
export function assertAreasWhole(snap: StoreSnapshot, what: string): void {
  snap.areas.forEach((area, index) => {
    if (area === null) return;
    const size = snap.raw[index]?.length ?? 0;
    assert.ok(
      recordOfAreaFile(new Uint8Array(size)).length === AREA_SIZE,
      `${what}: area-${index} has the wrong size (${size} bytes)`,
    );
    assert.notEqual(
      area.kind,
      "corrupt",
      `${what}: area-${index} is corrupt (${area.kind === "corrupt" ? area.reason : ""})`,
    );
  });
}

/** These tests mount and enter namespaces, and CI runs them as root: anything else is a failure. */
export function assertRoot(): void {
  assert.equal(
    process.getuid?.(),
    0,
    "test/faults needs root (unshare -m, mount, running the CLI as another user); CI runs as root",
  );
}

/**
 * A prefix that runs the CLI in a private mount namespace after `setup` (a sh script; "$0" is
 * `arg`): nothing it mounts is seen outside, and it all goes when the CLI exits.
 */
export function inMountNamespace(setup: string, arg: string): string[] {
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", `${setup} && exec "$@"`, arg];
}

/** Whether a path is a mount point in this (the host's) mount namespace. */
export function isMountPoint(path: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}

/**
 * A private mount namespace kept alive by a sleeping holder, with a tmpfs of `size` mounted on
 * `mountPoint` inside it. `prefix` runs a command inside (nsenter); `sh` runs a script there.
 * The holder is killed (by its pid) when the test ends, and the tmpfs goes with the namespace.
 */
export async function tmpfsNamespace(
  mountPoint: string,
  size: string,
): Promise<{
  prefix: string[];
  sh(script: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): void;
}> {
  const holder = spawn(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount -t tmpfs -o size=${size},mode=0700 reid-faults "$0" && echo ready && exec sleep 600`,
      mountPoint,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  holder.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    holder.on("exit", (code) =>
      reject(new Error(`cannot mount a tmpfs in a new namespace (${code}): ${stderr}`)),
    );
  });
  const pid = holder.pid;
  assert.ok(pid !== undefined);
  assert.ok(!isMountPoint(mountPoint), "the tmpfs leaked into the host's mount namespace");
  const prefix = ["nsenter", `--target=${pid}`, "--mount", "--"];
  return {
    prefix,
    sh: async (script) => {
      const child = spawn(prefix[0] as string, [...prefix.slice(1), "sh", "-c", script], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const { code, stdout, stderr } = await finished(child);
      return { code, stdout: stdout.toString(), stderr: stderr.toString() };
    },
    close: () => {
      if (holder.exitCode === null) holder.kill("SIGKILL");
    },
  };
}
