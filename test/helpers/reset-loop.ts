// Driving test/fixtures/reset-loop.ts (a process that resets forever) and reading what a SIGKILL
// left behind: shared by the crash test and bench/torture.ts. Nothing here asserts; a fixture that
// misbehaves is reported by throwing, so each caller reports it its own way (node:assert failure,
// or a counted violation).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openElement } from "../../src/element/element.js";
import { type DecodedArea, decodeArea, type StoredRecord } from "../../src/storage/record.js";

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

export interface KilledRun {
  /** Generations the fixture acknowledged, in order, before it was killed. */
  readonly acks: readonly number[];
}

/**
 * Spawns the reset loop on `store` (sealing under the key in `kekFile`, when given; `extra`
 * arguments such as --switch-modes after), waits for its first acknowledgement and `delayMs`
 * more, then SIGKILLs it. Throws ResetLoopStartError if it
 * never acknowledged a reset, ResetLoopViolation if it misbehaved.
 */
export async function runAndKill(
  fixture: string,
  store: string,
  delayMs: number,
  kekFile?: string,
  extra: readonly string[] = [],
): Promise<KilledRun> {
  const args = [fixture, store, ...(kekFile === undefined ? [] : ["--kek-file", kekFile]), ...extra];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
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
  const decoded = [decodeArea(raw[0]), decodeArea(raw[1])] as const;
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
 * One reset by the element in this process (not the fixture), sealed under `kek` when given;
 * returns the new generation.
 */
export async function resetInProcess(store: string, kek: Uint8Array | null = null): Promise<number> {
  const element = await openElement({
    storeDirectory: store,
    source: { kind: "os" },
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
