import type { EstTarget } from "./est-client.js";

/**
 * How the element holds its registry's answers to the identity log (docs/spec.md §10.12), as the
 * enrollment sees it: the checks themselves are the registry's log code
 * (src/registry/log/element-check.ts), which the daemon and the CLI hand in (the enrollment and
 * the registry sit side by side and import nothing of each other).
 */

/** What `enrollment.json` keeps of the log: the verifier key, and the newest checkpoint verified (a note). */
export interface LogRecord {
  readonly key: string;
  readonly checkpoint: string;
}

export interface ExpectedEvent {
  /** The answer's `Reid-Log-Index` or `logIndex`, as answered (null: none). */
  readonly index: string | null;
  readonly type: "enrolled" | "renewed" | "succeeded";
  readonly handle: string;
  readonly serial: string;
  readonly previous?: string;
  readonly predecessor?: string;
}

export interface LogGetAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array;
}

export type LogGet = (path: string) => Promise<LogGetAnswer>;

export interface LogWitness {
  /** The key (given, or asked for) and the newest checkpoint: where a verified enrollment starts. */
  begin(get: LogGet, where: string, caFingerprint: string, givenKey?: string): Promise<LogRecord>;
  /** The record to keep once the answer's event is in a checkpoint extending `kept`; else `log-untrusted`. */
  confirm(get: LogGet, where: string, kept: LogRecord, expected: ExpectedEvent): Promise<LogRecord>;
}

/** Loads the witness when an enrollment verifies, so an element that does not never loads it. */
export type LoadLogWitness = () => Promise<LogWitness>;

/** The log's API answers up to 1,000 leaves a page: a few MiB. */
const MAX_LOG_ANSWER = 16 * 2 ** 20;

/** GETs of the log's API over the enrollment's pinned TLS. */
export async function logGet(target: EstTarget): Promise<LogGet> {
  const { exchange } = await import("./est-client.js");
  const plain: EstTarget = { origin: target.origin, ca: target.ca };
  return (path) => exchange(plain, "GET", path, {}, undefined, { maxAnswer: MAX_LOG_ANSWER });
}

/** The log check of an answer, when the enrollment keeps a log record: the record to keep after it. */
export async function confirmed(
  load: LoadLogWitness,
  target: EstTarget,
  kept: LogRecord | undefined,
  expected: ExpectedEvent,
): Promise<LogRecord | undefined> {
  if (kept === undefined) return undefined;
  return (await load()).confirm(await logGet(target), target.origin.host, kept, expected);
}
