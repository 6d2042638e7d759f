import { createHash, randomBytes } from "node:crypto";

/** A sign-in link must be opened within this time, once. */
export const LINK_MS = 5 * 60_000;
/** Links outstanding at once; a new one past this replaces the oldest. */
const MAX_LINKS = 16;

/** A one-time sign-in link to the owner's page, as `reid page` prints it. */
export interface PageLink {
  /** http://localhost:PORT/link?token=TOKEN */
  readonly url: string;
  /** When it stops working if not opened (ISO-8601). */
  readonly expires: string;
}

/** What the daemon's socket asks of the page (docs/spec.md §6.4): a sign-in link. */
export interface PageApi {
  pageLink(): Promise<PageLink>;
}

/**
 * The page's capability (docs/spec.md §8.2): only the owner's account reaches the daemon's 0600
 * socket, so only it can ask for a link; opening one gives the browser a session, and nothing else
 * reaches the page. A token is 32 random bytes, kept only as its SHA-256 (a lookup by hash leaks
 * nothing about the token), spent on first use and dead after LINK_MS.
 */
export class PageLinks implements PageApi {
  private readonly links = new Map<string, number>();

  constructor(
    /** The page's origin, http://localhost:PORT. */
    private readonly origin: string,
    private readonly now: () => number = Date.now,
  ) {}

  async pageLink(): Promise<PageLink> {
    this.prune();
    while (this.links.size >= MAX_LINKS) {
      const oldest = this.links.keys().next().value as string;
      this.links.delete(oldest);
    }
    const token = randomBytes(32).toString("base64url");
    const expires = this.now() + LINK_MS;
    this.links.set(digest(token), expires);
    return { url: `${this.origin}/link?token=${token}`, expires: new Date(expires).toISOString() };
  }

  /** Whether `token` is a live link's; it is spent either way. */
  redeem(token: string | undefined): boolean {
    if (token === undefined || token.length > 64) return false;
    const key = digest(token);
    const expires = this.links.get(key);
    this.links.delete(key);
    return expires !== undefined && this.now() <= expires;
  }

  private prune(): void {
    const time = this.now();
    for (const [key, expires] of this.links) if (time > expires) this.links.delete(key);
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
