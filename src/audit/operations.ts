import { type AuditRecord, GENERATING, PENDING } from "./audit-log.js";

/**
 * The log as operations: an intent whose outcome was written is folded into it (the outcome
 * stands for the operation); an intent without one stays, `pending` (the process died, or the
 * outcome could not be written), unless it is a journaled commit's intent, which names its new
 * handle and is the commit's one record (docs/spec.md §9.3): it is `ok` once `committed` (the
 * store's record) has reached its generation and no later intent of a new generation names the
 * same or a lower one (one writer, and generations only grow: a later intent for the same
 * generation means this one never committed).
 */
export function operations(
  records: readonly AuditRecord[],
  committed?: { readonly generation: number },
): AuditRecord[] {
  const outcomes = new Set(records.flatMap((record) => (record.of === undefined ? [] : [record.of])));
  // The lowest generation a generating intent after each position names, walking back from the end.
  const lowestAfter: number[] = [];
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = records.length - 1; i >= 0; i--) {
    lowestAfter[i] = lowest;
    const record = records[i] as AuditRecord;
    if (record.outcome === PENDING && GENERATING.has(record.request)) {
      lowest = Math.min(lowest, record.generation);
    }
  }
  return records.flatMap((record, i) => {
    if (record.outcome !== PENDING) return [record];
    if (outcomes.has(record.seq)) return [];
    const done =
      record.handle !== null &&
      GENERATING.has(record.request) &&
      committed !== undefined &&
      committed.generation >= record.generation &&
      (lowestAfter[i] as number) > record.generation;
    return [done ? { ...record, outcome: "ok" } : record];
  });
}
