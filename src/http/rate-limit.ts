import type { Context, Next } from "hono";
import { ExitCode } from "../errors.js";
import { HttpError } from "./wire.js";

/** A bucket's size (the burst it allows) and how many tokens it gets back each second. */
export interface Rate {
  readonly burst: number;
  readonly perSecond: number;
}

/**
 * Refused owner operations from the daemon's socket: its peers are all the owner's account (the
 * socket is 0600), so the socket is one source. Sixty refusals at once, then one every 5 s: a
 * client hammering it without the PIN gets quick answers, not argon2 runs and audit records.
 * Only refusals spend tokens, so a slow refill slows nobody who proves the owner.
 */
export const SOCKET_RATE: Rate = { burst: 60, perSecond: 1 / 5 };
/**
 * Refused owner operations from the page, per session and per remote address: twenty, then one
 * every 30 s, far more than a person who mistypes needs (and the PIN locks at its fifth).
 */
export const PAGE_RATE: Rate = { burst: 20, perSecond: 1 / 30 };

/** Buckets kept at most; beyond, the least recently used go (a full bucket is as good as none). */
const MAX_BUCKETS = 1024;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Too many owner operations from one source: exit 4 like the gate's refusals, HTTP 429 with
 * Retry-After. Refused before the owner gate, so it counts as no PIN try and writes no audit
 * record: nothing a caller can do here locks the owner out or fills the log (docs/spec.md §2.8).
 */
export class RateLimited extends HttpError {
  constructor(
    readonly retryAfter: number,
    what: string,
  ) {
    super(
      429,
      "rate-limited",
      ExitCode.auth,
      `too many owner operations from ${what}: try again in ${retryAfter} s`,
    );
  }
}

/**
 * Token buckets by source (docs/spec.md §2.8): each owner operation takes a token from every
 * bucket its request belongs to (the page's session and remote address), or is refused with the
 * wait until each has one again; one that the owner proved gives its tokens back. The surfaces
 * (the daemon's socket, the page) share this one limiter; the CLI's direct path has none, as
 * nobody but the owner's account reaches it.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token from each of `sources`' buckets, or none and throws RateLimited. */
  take(sources: readonly string[], what: string): void {
    const now = this.now();
    const buckets = sources.map((source) => this.bucket(source, now));
    const short = buckets.filter((bucket) => bucket.tokens < 1);
    if (short.length > 0) {
      const wait = Math.max(...short.map((bucket) => (1 - bucket.tokens) / this.rate.perSecond));
      throw new RateLimited(Math.max(1, Math.ceil(wait)), what);
    }
    for (const bucket of buckets) bucket.tokens -= 1;
  }

  /** Gives back the token `take` took from each of `sources`' buckets (the operation was proved). */
  refund(sources: readonly string[]): void {
    for (const source of sources) {
      const bucket = this.buckets.get(source);
      if (bucket) bucket.tokens = Math.min(this.rate.burst, bucket.tokens + 1);
    }
  }

  /** The source's bucket, refilled for the time since it was last used, and now the most recent. */
  private bucket(source: string, now: number): Bucket {
    const found = this.buckets.get(source);
    const tokens = found
      ? Math.min(this.rate.burst, found.tokens + (Math.max(0, now - found.at) / 1000) * this.rate.perSecond)
      : this.rate.burst;
    const bucket = { tokens, at: now };
    this.buckets.delete(source);
    this.buckets.set(source, bucket);
    for (const oldest of this.buckets.keys()) {
      if (this.buckets.size <= MAX_BUCKETS) break;
      this.buckets.delete(oldest);
    }
    return bucket;
  }
}

/**
 * Hono middleware: a token from each of the sources `sourcesOf` names, taken before the request is
 * read (so that many at once cannot all pass an almost empty bucket) and given back unless the
 * answer is a refusal of the owner (401 or 403: no proof, a wrong one, a lock). So only refusals
 * spend a source's tokens: the owner's own work (a script resetting in a loop, a batch of signed
 * operations) is never slowed, while a source that keeps failing is stopped at the bucket.
 */
export function rateLimit(
  limiter: RateLimiter,
  sourcesOf: (c: Context) => readonly string[],
  what: string,
): (c: Context, next: Next) => Promise<void> {
  return async (c, next) => {
    const sources = sourcesOf(c);
    limiter.take(sources, what);
    await next();
    if (c.res.status !== 401 && c.res.status !== 403) limiter.refund(sources);
  };
}

/** The remote address of the request's connection, as the Node adapter hands it over. */
export function remoteAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? "unknown";
}
