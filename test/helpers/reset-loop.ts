// Driving test/fixtures/reset-loop.ts (a process that resets forever) and reading what a SIGKILL
// left behind: shared by the crash test and bench/torture.ts. Nothing here asserts; a fixture that
// misbehaves is reported by throwing, so each caller reports it its own way (node:assert failure,
// or a counted violation).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AuditLog, GENERATING } from "../../src/audit/audit-log.js";
import { deriveHandle } from "../../src/derive/derivation.js";
import { openElement } from "../../src/element/element.js";
import { recordOfAreaFile } from "../../src/storage/file/file-area.js";
import { openStore } from "../../src/storage/open.js";
import { type DecodedArea, decodeArea, encodeRecord, type StoredRecord } from "../../src/storage/record.js";
import type { StoreSpec } from "../../src/storage/store-spec.js";

/** Only a guard against a fixture that never starts; not a performance expectation. */
const FIRST_ACK_GUARD_MS = 60_000;

/** The reset loop ended (or hung and was killed) before acknowledging a reset: nothing was tested. */
export class ResetLoopStartError extends Error {
  override readonly name = "ResetLoopStartError";
}

/**
 * The killed reset loop misbehaved: it died on its own, wrote to stderr, or left an acknowledgement
 * line torn or garbled.
 */
export class ResetLoopViolation extends Error {
  override readonly name = "ResetLoopViolation";
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ResetLoopViolation(message);
}

/**
 * The generations a killed run acknowledged must go on from `committed` one by one; returns the
 * last acknowledged (or `committed` when the kill came before the first acknowledgement).
 */
export function lastAcknowledged(acks: readonly number[], committed: number): number {
  check(
    acks.length === 0 || acks[0] === committed + 1,
    `first reset gave ${acks[0]}, expected ${committed + 1}`,
  );
  for (let i = 1; i < acks.length; i++) {
    check(acks[i] === (acks[i - 1] ?? 0) + 1, `acknowledged generations skip: ${acks[i - 1]} -> ${acks[i]}`);
  }
  return acks.at(-1) ?? committed;
}

/**
 * After a kill, the element shows the last acknowledged generation or the one after it (a reset
 * that was durable but not yet acknowledged), never blank and never below what was seen before.
 */
export function oldOrNew(
  status: { readonly state: string; readonly generation: number },
  last: number,
  highest: number,
  where: string,
): "ack" | "next" {
  check(status.state === "set", `${where}: status is ${status.state}`);
  check(
    status.generation === last || status.generation === last + 1,
    `${where}: status shows generation ${status.generation}, the last acknowledged was ${last}`,
  );
  check(status.generation >= highest, `${where}: generation went back below ${highest}`);
  return status.generation === last ? "ack" : "next";
}

/**
 * Both outcomes prove that kills landed inside commits: before the new record was durable
 * (status = ack) and after it was durable but before the acknowledgement (status = ack + 1).
 */
export function checkBothOutcomes(outcomes: { readonly ack: number; readonly next: number }): void {
  check(outcomes.ack > 0, "no kill landed before a commit: status never showed the acknowledged generation");
  check(
    outcomes.next > 0,
    "no kill landed inside a commit: status never showed an unacknowledged generation",
  );
}

/** A record as the checks below see it: where it stands in the commit order, and its identifier. */
export interface HeldRecord {
  readonly epoch: number;
  readonly generation: number;
  readonly identifier: Uint8Array | null;
}

/**
 * What a kill may leave in the two areas: the newest record is the generation status reports, and
 * a second record, if any, is the one that reset superseded (one commit, one generation before,
 * another identifier).
 */
export function checkNewestAndOlder(
  newest: HeldRecord | undefined,
  older: HeldRecord | undefined,
  statusGeneration: number,
  where: string,
): void {
  check(newest, `${where}: neither area holds a valid record`);
  check(newest.generation === statusGeneration, `${where}: status disagrees with the newest record`);
  if (!older) return;
  check(newest.epoch - older.epoch === 1, `${where}: the two records are not one commit apart`);
  check(newest.generation - older.generation === 1, `${where}: the two records are not one reset apart`);
  const same =
    newest.identifier !== null &&
    older.identifier !== null &&
    Buffer.from(newest.identifier).equals(Buffer.from(older.identifier));
  check(!same, `${where}: old and new identifier are equal`);
}

/**
 * The valid records a kill left in a backend, newest (highest epoch) first: each set, with an
 * identifier that belongs to its handle, the newest the generation the store reports, and a
 * second only as the other end of one reset.
 */
export function checkRecords(
  records: readonly StoredRecord[],
  statusGeneration: number,
  where: string,
): void {
  for (const record of records) {
    check(record.state === "set", `${where}: a blank record at generation ${record.generation}`);
    check(record.identifier, `${where}: a record holds no identifier`);
    check(
      deriveHandle(record.identifier) === record.handle,
      `${where}: a record holds an identifier of another handle`,
    );
  }
  const [newest, older] = records;
  checkNewestAndOlder(newest, older, statusGeneration, where);
}

/**
 * The generations the audit log of `store` names as committed, or about to be, by a request that
 * brings one into being (its outcome "ok", or its intent "pending"), read
 * from the file as it lies (whole lines only: a kill may leave a torn last line, cut off by the
 * next append).
 */
export function loggedGenerations(store: string): Set<number> {
  const generations = new Set<number>();
  // Across the rotated files too: a loop past the rotation size keeps its early generations there.
  for (const record of new AuditLog(store).read()) {
    // Its intent ("pending") or outcome: a refusal names the generation it left alone.
    const stands = record.outcome === "ok" || record.outcome === "pending";
    if (typeof record.request === "string" && GENERATING.has(record.request) && stands) {
      generations.add(Number(record.generation));
    }
  }
  return generations;
}

/**
 * Every generation the store has committed, 1 to `generation`, is accounted for in its audit log
 * (docs/spec.md §9.4): a kill between the commit and its audit record must not leave one unsaid.
 */
export function checkLogged(store: string, generation: number, where: string): void {
  const logged = loggedGenerations(store);
  const missing: number[] = [];
  for (let g = 1; g <= generation; g++) if (!logged.has(g)) missing.push(g);
  check(
    missing.length === 0,
    `${where}: generation ${missing.join(", ")} committed, but not in the audit log`,
  );
}

/**
 * load() through the store, read-only (on `backend`, else the store's own): the identifier it
 * hands out is the newest record's, with the same header.
 */
export async function checkLoad(
  store: string,
  backend: StoreSpec | null,
  newest: StoredRecord,
  where: string,
): Promise<void> {
  const { store: opened } = await openStore(store, backend, { write: false, lockTimeoutMs: 30_000 });
  try {
    const record = await opened.load();
    try {
      const fields = (r: StoredRecord) => JSON.stringify([r.state, r.generation, r.epoch, r.handle]);
      check(fields(record) === fields(newest), `${where}: load() disagrees with the newest record`);
      check(
        record.identifier && newest.identifier && Buffer.from(record.identifier).equals(newest.identifier),
        `${where}: load() returned another identifier than the newest record's`,
      );
    } finally {
      record.identifier?.fill(0);
    }
  } finally {
    await opened.close();
  }
}

/** A valid set record as reid encodes it, with a fresh identifier: to show the checks reject mixes. */
export function recordBytes(generation: number, epoch: number): Uint8Array {
  const identifier = randomBytes(32);
  const bytes = encodeRecord(
    {
      state: "set",
      generation,
      format: { kind: "raw", length: 32 },
      singleType: false,
      sealed: false,
      handle: deriveHandle(identifier),
      identifier,
    },
    epoch,
  );
  identifier.fill(0);
  return bytes;
}

export interface KilledRun {
  /** Generations the fixture acknowledged, in order, before it was killed. */
  readonly acks: readonly number[];
}

/**
 * Spawns the reset loop on `store` (sealing under the key in `kekFile`, when given; `extra`
 * arguments after, such as --tpm SPEC, --pkcs11 SPEC or --switch-modes; `env` added to its PATH and
 * HOME, such as SOFTHSM2_CONF), waits for its first acknowledgement and `delayMs` more, then
 * SIGKILLs it. Throws ResetLoopStartError if it never acknowledged a reset, ResetLoopViolation if
 * it misbehaved.
 */
export async function runAndKill(
  fixture: string,
  store: string,
  delayMs: number,
  kekFile?: string,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<KilledRun> {
  const args = [fixture, store, ...(kekFile === undefined ? [] : ["--kek-file", kekFile]), ...extra];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home", ...env },
  });
  let stdout = "";
  let stderr = "";
  let acknowledged: () => void = () => undefined;
  const firstAck = new Promise<null>((resolve) => {
    acknowledged = () => resolve(null);
  });
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    if (stdout.includes("\n")) acknowledged();
  });
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  const guard = setTimeout(() => child.kill("SIGKILL"), FIRST_ACK_GUARD_MS);
  const early = await Promise.race([firstAck, closed]);
  clearTimeout(guard);
  if (early !== null) {
    // 'close' came first: the child is gone already (killed by the guard, if it hung).
    throw new ResetLoopStartError(
      `the reset loop ended before acknowledging a reset (exit ${early.code}, signal ${early.signal}): ${stderr.trim()}`,
    );
  }
  if (delayMs > 0) await sleep(delayMs);
  child.kill("SIGKILL");
  // 'close' waits for stdout to reach EOF: every acknowledgement written before death is read.
  const ended = await closed;
  check(ended.signal === "SIGKILL", `the reset loop died on its own (exit ${ended.code}): ${stderr.trim()}`);
  check(stderr === "", `the reset loop wrote to stderr: ${stderr.trim()}`);
  const lines = stdout.split("\n");
  check(lines.pop() === "", "an acknowledgement line was torn");
  const acks = lines.map((line) => {
    check(/^\d+$/.test(line), `bad acknowledgement line '${line}'`);
    return Number(line);
  });
  return { acks };
}

export interface Areas {
  readonly raw: readonly [Buffer, Buffer];
  readonly decoded: readonly [DecodedArea, DecodedArea];
  /** The areas' valid records, newest (highest epoch) first. */
  readonly records: readonly StoredRecord[];
}

/** Reads and decodes both area files of `store`; hand the result to forget() when done. */
export function readAreas(store: string): Areas {
  const raw = [readFileSync(join(store, "area-0")), readFileSync(join(store, "area-1"))] as const;
  const decoded = [decodeArea(recordOfAreaFile(raw[0])), decodeArea(recordOfAreaFile(raw[1]))] as const;
  const records = decoded
    .flatMap((area) => (area.kind === "record" ? [area.record] : []))
    .sort((a, b) => b.epoch - a.epoch);
  return { raw, decoded, records };
}

/** Zeroes the identifiers and raw bytes read by readAreas(). */
export function forget(areas: Areas): void {
  for (const record of areas.records) record.identifier?.fill(0);
  for (const bytes of areas.raw) bytes.fill(0);
}

/**
 * One reset by the element in this process (not the fixture), sealed under `kek` when given, on
 * the backend `backend` names when given (its connection closes with the element), else on the
 * store's own; returns the new generation.
 */
export async function resetInProcess(
  store: string,
  kek: Uint8Array | null = null,
  backend: StoreSpec | null = null,
): Promise<number> {
  const element = await openElement({
    storeDirectory: store,
    store: backend,
    write: true,
    lockTimeoutMs: 30_000,
    kek,
  });
  try {
    return (await element.control.submit({ type: "reset" })).generation;
  } finally {
    await element.close();
  }
}
