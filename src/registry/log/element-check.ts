import type { ExpectedEvent, LogGet, LogRecord } from "../../http/log-witness.js";
import type { Checkpoint } from "./checkpoint.js";
import { LogClient } from "./client.js";
import { leafHash } from "./hash.js";
import { eventOfLeaf, type LeafEvent } from "./leaf.js";
import { logUntrusted } from "./log-errors.js";
import { parseVerifierKey } from "./note.js";
import { verifyInclusion } from "./verify.js";
import { checkExtends, keyOfRegistry, openCheckpoint } from "./witness.js";

/**
 * The element's side of the identity log (docs/spec.md §10.12): it keeps, with its enrollment, the
 * registry's verifier key and the newest checkpoint it verified, and holds each answer of the
 * registry (an enrollment, a renewal, a succession) to the log: the answer's event must be in a
 * checkpoint that extends the kept one. The enrollment composes these through the interface of
 * src/http/log-witness.ts, so it imports nothing of the registry.
 */

export interface WaitOptions {
  /** How long the answer's event may take to reach a checkpoint (the registry integrates within a second). */
  readonly waitMs?: number;
  readonly pollMs?: number;
}

const WAIT_MS = 10_000;
const POLL_MS = 250;

/**
 * Before a first answer: the verifier key (`givenKey`, or asked of the registry over the pinned
 * TLS, trusted on first use) and the newest checkpoint, opened with it.
 */
export async function begin(
  get: LogGet,
  where: string,
  caFingerprint: string,
  givenKey?: string,
): Promise<LogRecord> {
  const client = new LogClient(get, where);
  const text = givenKey ?? (await client.key()).text;
  const key = keyOfRegistry(parseVerifierKey(text), caFingerprint);
  const checkpoint = await client.checkpoint();
  openCheckpoint(checkpoint, key);
  return { key: text, checkpoint };
}

/**
 * After an answer: waits for a checkpoint that holds its index and extends the kept one, fetches
 * the leaf there, checks it is the event expected and that the checkpoint includes it. The new
 * record to keep, or `log-untrusted` saying what failed (the caller keeps the old one).
 */
export async function confirm(
  get: LogGet,
  where: string,
  kept: LogRecord,
  expected: ExpectedEvent,
  options: WaitOptions = {},
): Promise<LogRecord> {
  const index =
    expected.index !== null && /^(0|[1-9][0-9]{0,15})$/.test(expected.index) ? Number(expected.index) : -1;
  if (!Number.isSafeInteger(index) || index < 0) {
    throw logUntrusted(`the registry at ${where} answered no log index for its ${expected.type} event`);
  }
  const client = new LogClient(get, where);
  const key = parseVerifierKey(kept.key);
  const old = openCheckpoint(kept.checkpoint, key);
  const { note, checkpoint } = await checkpointHolding(client, key, old, index, options);
  const [leaf] = (await client.leaves(index, index + 1).next()).value ?? [];
  if (leaf === undefined) throw logUntrusted(`the registry at ${where} answered no leaf ${index}`);
  const event = eventOfLeaf(leaf);
  if (!matches(event, expected)) {
    throw logUntrusted(
      `leaf ${index} of the log is ${describe(event)}, not this element's ${expected.type} of ${expected.handle} (serial ${expected.serial})`,
    );
  }
  verifyInclusion(
    leafHash(leaf),
    index,
    checkpoint.size,
    await client.inclusion(index, checkpoint.size),
    checkpoint.root,
  );
  return { key: kept.key, checkpoint: note };
}

/** The newest checkpoint once it holds `index`, each one seen held to the kept one. */
async function checkpointHolding(
  client: LogClient,
  key: ReturnType<typeof parseVerifierKey>,
  kept: Checkpoint,
  index: number,
  options: WaitOptions,
): Promise<{ note: string; checkpoint: Checkpoint }> {
  const deadline = Date.now() + (options.waitMs ?? WAIT_MS);
  for (;;) {
    const note = await client.checkpoint();
    const checkpoint = openCheckpoint(note, key);
    await checkExtends(client, kept, checkpoint);
    if (checkpoint.size > index) return { note, checkpoint };
    if (Date.now() >= deadline) {
      throw logUntrusted(
        `the registry at ${client.where} signed no checkpoint holding leaf ${index} within ${(options.waitMs ?? WAIT_MS) / 1000} s (its newest is of ${checkpoint.size})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? POLL_MS));
  }
}

function matches(event: LeafEvent, expected: ExpectedEvent): boolean {
  const data = event.data as Record<string, unknown>;
  return (
    event.type === expected.type &&
    event.handle === expected.handle &&
    data.serial === expected.serial &&
    (expected.previous === undefined || data.previous === expected.previous) &&
    (expected.predecessor === undefined || data.predecessor === expected.predecessor)
  );
}

function describe(event: LeafEvent): string {
  const serial = (event.data as Record<string, unknown>).serial;
  return `${event.type} of ${event.handle}${typeof serial === "string" ? ` (serial ${serial})` : ""}`;
}
