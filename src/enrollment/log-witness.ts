import type { ExpectedEvent, LogGet, LogRecord, LogWitness } from "../http/log-witness.js";
import type { EstTarget } from "./est-client.js";

/**
 * The enrollment's side of the identity log's checks (docs/spec.md §10.12): they are loaded only
 * when an enrollment verifies the log, so an element that does not never loads them.
 */
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
