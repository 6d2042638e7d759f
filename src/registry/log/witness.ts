import { type Checkpoint, parseCheckpoint } from "./checkpoint.js";
import type { LogClient } from "./client.js";
import { EMPTY_ROOT } from "./hash.js";
import { logUntrusted } from "./log-errors.js";
import { logOrigin } from "./log-key.js";
import { openNote, type VerifierKey } from "./note.js";
import { verifyConsistency } from "./verify.js";

/**
 * What every verifier of the identity log does with a new checkpoint (docs/spec.md §10.12), the
 * element and the auditor alike: open it with the key it keeps, and hold it to the checkpoint it
 * verified before, so that a registry that forked or rewrote its history is caught.
 */

/** The checkpoint a note signs with `key`; its origin must be the key's name. */
export function openCheckpoint(note: string, key: VerifierKey): Checkpoint {
  const checkpoint = parseCheckpoint(openNote(note, key));
  if (checkpoint.origin !== key.name) {
    throw logUntrusted(`a checkpoint of the log '${checkpoint.origin}', not of '${key.name}'`);
  }
  if (checkpoint.size === 0 && !Buffer.from(checkpoint.root).equals(EMPTY_ROOT)) {
    throw logUntrusted("a checkpoint of the empty log with another root than the empty tree's");
  }
  return checkpoint;
}

/** The key for this registry's log: refused when it names another registry's. */
export function keyOfRegistry(key: VerifierKey, caFingerprint: string): VerifierKey {
  const name = logOrigin(caFingerprint);
  if (key.name !== name)
    throw logUntrusted(`the log key is of '${key.name}', not of this registry's ${name}`);
  return key;
}

/**
 * Checks that `next` extends `kept` (null: nothing verified before): never smaller, the same root
 * for the same size, and otherwise RFC 9162's consistency proof, asked of the registry, verified.
 */
export async function checkExtends(
  client: LogClient,
  kept: Checkpoint | null,
  next: Checkpoint,
): Promise<void> {
  if (kept === null || kept.size === 0) return;
  if (next.size < kept.size) {
    throw logUntrusted(`the log of ${next.size} is smaller than the log of ${kept.size} seen before`);
  }
  if (next.size === kept.size) {
    if (!Buffer.from(next.root).equals(kept.root)) {
      throw logUntrusted(
        `the log of ${next.size} is signed with another root than the one seen before: a fork`,
      );
    }
    return;
  }
  const proof = await client.consistency(kept.size, next.size);
  verifyConsistency(kept.size, next.size, kept.root, next.root, proof);
}
