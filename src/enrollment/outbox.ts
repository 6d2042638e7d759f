import { join } from "node:path";
import type { SignedStatement } from "../derive/succession-statement.js";
import { describeOsError, StorageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";

/**
 * What the element still has to tell its registry (docs/spec.md §10.9): signed statements written
 * durably before the change they speak of is committed, delivered after it. Plain JSON in the
 * store directory, 0600, replaced whole (written aside, fsync'd, renamed, the directory fsync'd).
 */
export interface OutboxEntry {
  readonly kind: "succession" | "retirement";
  /** Where it goes and whom to trust there: the enrollment's registry and pinned CA (PEM). */
  readonly registry: string;
  readonly caCertificate: string;
  readonly caFingerprint: string;
  /** A succession's new handle; a retirement's retired handle. */
  readonly handle: string;
  /** A succession's predecessor. */
  readonly predecessor?: string;
  readonly generation: number;
  readonly algorithm: "ed25519" | "p256";
  readonly body: SignedStatement;
  readonly createdAt: string;
  /** pending: to be delivered; failed: the registry refused it for good (`error` says why). */
  readonly state: "pending" | "failed";
  readonly error?: string;
  readonly attempts: number;
}

interface OutboxFile {
  readonly format: "reid-registry-outbox";
  readonly version: 1;
  readonly entries: readonly OutboxEntry[];
}

export const OUTBOX_FILE = "registry-outbox.json";

/** The entries, oldest first; none when the file is absent. A file that is not one is refused. */
export function readOutbox(storeDirectory: string): OutboxEntry[] {
  const path = join(storeDirectory, OUTBOX_FILE);
  const text = readOptionalFile(path);
  if (text === null) return [];
  let value: Partial<OutboxFile> | null;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (value?.format !== "reid-registry-outbox" || value.version !== 1 || !Array.isArray(value.entries)) {
    throw new StorageError(`${path} is not a reid registry outbox`, "store-corrupt");
  }
  return [...value.entries];
}

/** Replaces the outbox durably with `entries` (none: the file stays, empty, so its absence means never used). */
export function writeOutbox(storeDirectory: string, entries: readonly OutboxEntry[]): void {
  const file: OutboxFile = { format: "reid-registry-outbox", version: 1, entries };
  try {
    replaceFile(join(storeDirectory, OUTBOX_FILE), `${JSON.stringify(file)}\n`);
  } catch (error) {
    throw new StorageError(
      `cannot write the registry outbox in ${storeDirectory}: ${describeOsError(error)}`,
    );
  }
}

/**
 * The entries that can still mean something with `currentHandle` committed, in order; failed ones
 * stay for the owner to see. A statement for a change that never committed cannot: a succession
 * must lead to the current identity (itself, or through the pending successions after it), a
 * retirement must name an identity that is gone.
 */
export function liveEntries(entries: readonly OutboxEntry[], currentHandle: string | null): OutboxEntry[] {
  const leading = new Set([currentHandle]);
  const live = new Set<OutboxEntry>();
  for (const entry of [...entries].reverse()) {
    if (entry.state === "failed") live.add(entry);
    else if (entry.kind === "retirement") {
      if (entry.handle !== currentHandle) live.add(entry);
    } else if (leading.has(entry.handle)) {
      live.add(entry);
      leading.add(entry.predecessor ?? null);
    }
  }
  return entries.filter((entry) => live.has(entry));
}
