import { UsageError } from "../errors.js";

/** The most readings one answer carries (and the most the device keeps). */
export const MAX_READINGS = 64;

/** Who a reading may be answered to: the user, and when it bound (milliseconds since the epoch). */
export interface Reader {
  readonly user: string;
  readonly since: number;
}

interface Entry {
  readonly handle: string;
  readonly reading: string;
  readonly at: number;
  /** The user whose request took it; null for a sample (`--sample-every`), which is the device's. */
  readonly for: string | null;
}

/**
 * The device's recent readings, newest last, each tagged with the handle the device had when it was
 * taken, when, and for whom. Only readings of the current handle are ever answered: after a reset or
 * erase the earlier ones are dropped, so a new owner's users never see the readings taken for the
 * previous one. A user is answered only samples taken since it bound and the readings its own
 * requests took, never those taken for another user (docs/spec.md §7.6). Kept in memory only: a
 * restarted daemon starts with none.
 */
export class ReadingHistory {
  private readings: Entry[] = [];

  constructor(private readonly capacity = MAX_READINGS) {}

  /** A reading taken at `at` under `handle`, for `user`'s request (none: a sample). */
  add(handle: string, reading: string, at: number, user: string | null = null): void {
    const kept = this.readings.filter((r) => r.handle === handle);
    kept.push({ handle, reading, at, for: user });
    this.readings = kept.slice(-this.capacity);
  }

  /** The last `count` readings taken under `handle` that `reader` may see, oldest first. */
  latest(handle: string, count: number, reader: Reader): string[] {
    return this.readings
      .filter((r) => r.handle === handle && r.at >= reader.since && (r.for === null || r.for === reader.user))
      .slice(-count)
      .map((r) => r.reading);
  }
}

/**
 * How many readings a telemetry request asks for: none given is 1 (a fresh reading); otherwise one
 * argument, the count in decimal. It is signed with the request, so no one on the way can change it.
 */
export function requestedCount(args: readonly string[]): number {
  if (args.length === 0) return 1;
  const count = args.length === 1 ? readingCount(args[0] as string) : null;
  if (count !== null) return count;
  throw new UsageError(
    `a telemetry request asks for 1 to ${MAX_READINGS} readings (one decimal argument), not '${args.join(" ").slice(0, 40)}'`,
    "bad-telemetry-request",
  );
}

/** A count of readings written in decimal, 1 to MAX_READINGS; null for anything else. */
export function readingCount(text: string): number | null {
  return /^[1-9][0-9]{0,2}$/.test(text) && Number(text) <= MAX_READINGS ? Number(text) : null;
}
