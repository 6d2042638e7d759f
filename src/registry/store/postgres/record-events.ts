import { CompiledQuery, type Transaction } from "kysely";
import {
  IMPORT_ROWS,
  type NewEvent,
  type WrittenEvent,
  writeEvents,
  writtenInOrder,
} from "../kysely-store.js";
import type { RegistrySchema } from "../schema.js";
import { copyInsert } from "./copy.js";

/**
 * The WITH parts that insert a group's events, each a row of arrays from parameter `$first` on
 * (type, handle, data, at, then their number), given the log's next leaves by the statement that
 * inserts them: the log's length is moved on by their number (its row locked until the commit,
 * which orders the nodes' groups) and read back as it was, the newest committed (an UPDATE that
 * waited for the row reads it anew). Sequences are drawn after the sort, in the order of the leaves.
 */
export const APPENDED_EVENTS = (first: number): string => `length as (
  update log_length set leaves = leaves + $${first + 4} returning leaves - $${first + 4} as first
), event as (
  insert into events (type, handle, data, at, leaf)
  select e.type, e.handle, e.data, e.at, length.first + e.ordinality - 1
  from length, unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::text[], $${first + 3}::text[])
    with ordinality as e(type, handle, data, at, ordinality)
  order by e.ordinality
  returning sequence, leaf
)`;

const APPEND_EVENTS = `with ${APPENDED_EVENTS(1)}
select sequence, leaf from event`;

/** The events' columns as APPENDED_EVENTS takes them. */
export function eventColumns(events: readonly NewEvent[]): unknown[] {
  const column = (of: (event: NewEvent) => string) => events.map(of);
  return [
    column((event) => event.type),
    column((event) => event.handle),
    column((event) => event.data),
    column((event) => event.at),
    events.length,
  ];
}

/**
 * A group's events, in one statement, at the end of its transaction: the length's row lock is
 * taken there and held for the commit only, so the nodes' changes run side by side and only their
 * events are written one group at a time. Events then commit in the order of their sequence and
 * their leaves: one that committed after a higher one could otherwise be passed over by a reader
 * that has read past it (`eventsSince`). Refusals and invariants stay the database's own
 * constraints and conditional updates; this only orders the log.
 */
export async function recordEvents(
  trx: Transaction<RegistrySchema>,
  events: readonly NewEvent[],
): Promise<WrittenEvent[]> {
  // An import's thousands go by COPY.
  if (events.length > IMPORT_ROWS) return writeEvents(trx, events, copyInsert);
  const { rows } = await trx.executeQuery<{ sequence: string; leaf: string }>(
    CompiledQuery.raw(APPEND_EVENTS, eventColumns(events)),
  );
  return writtenInOrder(rows);
}
