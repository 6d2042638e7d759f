import type { AuditEntry } from "./audit-log.js";

/** The request name of a summary of refusals (docs/spec.md §9.5). */
export const REFUSED = "refused";
/** The principal of a summary: whoever was refused proved nothing, so it is nobody in particular. */
export const NETWORK = "network";
/** Peers counted apart in one minute; the refusals of any further peer are counted under OTHERS. */
export const MAX_PEERS = 64;
/** The peer a minute's refusals are counted under once MAX_PEERS peers have their own count. */
export const OTHERS = "*";

const MINUTE_MS = 60_000;

/** One peer's refusals for one reason within one minute. */
export interface RefusalCount {
  readonly peer: string;
  readonly reason: string;
  count: number;
  from: string;
  to: string;
}

/** What a summary's record says besides its count: where the element stood when it was written. */
export type SummaryPlace = Pick<AuditEntry, "generation" | "handle">;

/**
 * Refusals of peers who proved nothing (a stranger's junk command, a wrong setup code), counted in
 * memory instead of written one record each: one count per peer and reason per minute, at most
 * MAX_PEERS peers a minute (the rest together), so what the log takes for them does not grow with
 * how many were sent. Held until the minute has ended; a crash loses the counts not yet taken.
 * Specified in docs/spec.md §9.5.
 */
export class RefusalTally {
  /** Minute (ms since the epoch / 60,000) -> its counts by "peer reason", and the peers counted apart. */
  private readonly minutes = new Map<number, { counts: Map<string, RefusalCount>; peers: Set<string> }>();

  count(peer: string, reason: string, at: Date): void {
    const minute = Math.floor(at.getTime() / MINUTE_MS);
    let held = this.minutes.get(minute);
    if (!held) {
      held = { counts: new Map(), peers: new Set() };
      this.minutes.set(minute, held);
    }
    const { counts, peers } = held;
    if (peers.size < MAX_PEERS) peers.add(peer);
    const who = peers.has(peer) ? peer : OTHERS;
    const time = at.toISOString();
    const key = `${who} ${reason}`;
    const counted = counts.get(key);
    if (counted) {
      counted.count++;
      if (time < counted.from) counted.from = time;
      if (time > counted.to) counted.to = time;
    } else counts.set(key, { peer: who, reason, count: 1, from: time, to: time });
  }

  /** Whether any count is held. */
  get empty(): boolean {
    return this.minutes.size === 0;
  }

  /**
   * Takes the counts of the minutes that ended before `now` (every count when `now` is absent: the
   * daemon stops), oldest minute first, as the audit entries that summarise them.
   */
  take(place: SummaryPlace, now?: Date): AuditEntry[] {
    const current = now === undefined ? Number.POSITIVE_INFINITY : Math.floor(now.getTime() / MINUTE_MS);
    const ended = [...this.minutes.keys()].filter((minute) => minute < current).sort((a, b) => a - b);
    return ended.flatMap((minute) => {
      const counts = [...(this.minutes.get(minute)?.counts.values() ?? [])];
      this.minutes.delete(minute);
      return counts.map((c) => summary(c, place));
    });
  }
}

function summary(counted: RefusalCount, place: SummaryPlace): AuditEntry {
  const { peer, reason, count, from, to } = counted;
  return {
    time: to,
    request: REFUSED,
    principal: NETWORK,
    outcome: reason,
    generation: place.generation,
    handle: place.handle,
    detail: { peer, reason, count, from, to },
  };
}
