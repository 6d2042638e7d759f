import type { Checkpoint } from "./checkpoint.js";
import type { LogClient } from "./client.js";
import { leafHash } from "./hash.js";
import { eventOfLeaf } from "./leaf.js";
import { logUntrusted } from "./log-errors.js";
import type { VerifierKey } from "./note.js";
import type { DeviceTable } from "./replay.js";
import { MerkleTree } from "./tree.js";
import { checkExtends, openCheckpoint } from "./witness.js";

/**
 * The auditor's round (docs/spec.md §10.12): the newest checkpoint, opened and held to the last
 * one verified; every leaf since, fetched and hashed into the tree of all the leaves verified so
 * far, which must make the root the checkpoint signs; and each leaf's event replayed into the
 * device table, which refuses a history no registry could have written.
 */
export interface AuditedLog {
  /** The last checkpoint verified, as its note (null: none yet). */
  readonly note: string | null;
  readonly checkpoint: Checkpoint | null;
  /** Every leaf's hash up to the checkpoint's size. */
  readonly tree: MerkleTree;
  readonly table: DeviceTable;
}

export interface Round {
  readonly log: AuditedLog;
  /** How many leaves this round verified. */
  readonly added: number;
}

/**
 * One round. `log.tree` grows as leaves come: after a failure it holds leaves not verified, and
 * the caller that goes on takes `firstLeaves(tree, size)` of it.
 */
export async function auditRound(client: LogClient, key: VerifierKey, log: AuditedLog): Promise<Round> {
  const note = await client.checkpoint();
  const next = openCheckpoint(note, key);
  await checkExtends(client, log.checkpoint, next);
  const { tree } = log;
  const from = tree.size;
  const table = log.table.copy();
  // The root is checked before a replay's refusal is reported: a leaf changed on the way is a
  // rewritten history, whatever its event says.
  let refusal: unknown = null;
  let index = from;
  for await (const page of client.leaves(from, next.size)) {
    for (const leaf of page) {
      tree.append(leafHash(leaf));
      if (refusal === null) {
        try {
          table.apply(eventOfLeaf(leaf), index);
        } catch (error) {
          refusal = error;
        }
      }
      index++;
    }
  }
  if (!Buffer.from(tree.root()).equals(next.root)) {
    throw logUntrusted(
      `the leaves the registry at ${client.where} served do not make the root its checkpoint of ${next.size} signs`,
    );
  }
  if (refusal !== null) throw refusal;
  return { log: { note, checkpoint: next, tree, table }, added: next.size - from };
}

/** A tree of the first `size` leaves of `tree`: what was verified, after a round that failed. */
export function firstLeaves(tree: MerkleTree, size: number): MerkleTree {
  const kept = new MerkleTree();
  for (let index = 0; index < size; index++) kept.append(tree.leafHash(index));
  return kept;
}
