import { UsageError } from "../errors.js";

/** The most readings one answer carries (and the most the device keeps). */
export const MAX_READINGS = 64;

/**
 * The device's recent readings, newest last, each tagged with the handle the device had when it was
 * taken. Only readings of the current handle are ever answered: after a reset or erase the earlier
 * ones are dropped, so a new owner's users never see the readings taken for the previous one. Kept
 * in memory only: a restarted daemon starts with none.
 */
export class ReadingHistory {
  private readings: { readonly handle: string; readonly reading: string }[] = [];

  constructor(private readonly capacity = MAX_READINGS) {}

  add(handle: string, reading: string): void {
    const kept = this.readings.filter((r) => r.handle === handle);
    kept.push({ handle, reading });
    this.readings = kept.slice(-this.capacity);
  }

  /** The last `count` readings taken under `handle`, oldest first. */
  latest(handle: string, count: number): string[] {
    return this.readings
      .filter((r) => r.handle === handle)
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
