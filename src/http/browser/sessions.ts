import { randomBytes, timingSafeEqual } from "node:crypto";

/** A session ends after this long without a request... */
export const IDLE_MS = 15 * 60_000;
/** ...and after this long in any case. */
export const LIFETIME_MS = 8 * 60 * 60_000;
/** A passkey challenge must be answered within this time, once. */
export const CHALLENGE_MS = 60_000;
/** Sessions kept at once; the least recently used goes first. */
const MAX_SESSIONS = 64;

export interface Challenge {
  readonly challenge: string;
  /** For a proof: the operation it may authorize ("reset", "cancel:<id>"...). */
  readonly intent: string;
  readonly expires: number;
}

/**
 * One browser's session. `Purpose` names what a challenge may be issued for (the owner's page:
 * signing in with a passkey, registering one, a proof); a page that issues none leaves it `never`.
 */
export interface Session<Purpose extends string = never> {
  readonly id: string;
  /** Sent by the page as X-CSRF-Token on every state-changing call. */
  readonly csrf: string;
  readonly created: number;
  seen: number;
  /** Who signed in ("web:pin", "web:passkey:<id>", "operator"), or null before sign-in. */
  readonly principal: string | null;
  /** At most one outstanding challenge per purpose: a new one replaces it, any use spends it. */
  readonly challenges: Map<Purpose, Challenge>;
  /** Live event streams of this session, closed when it ends. */
  readonly streams: Set<() => void>;
}

/**
 * A browser page's sessions, in memory only (a restart of the server signs everyone out). A session
 * exists before sign-in (so even the sign-in form carries a CSRF token); signing in replaces it
 * with a new session (new id, new token), so an id planted before sign-in is worth nothing after
 * it. The owner's page (docs/spec.md §8.2) and the registry's operator's page (§10.11) keep theirs so.
 */
export class Sessions<Purpose extends string = never> {
  private readonly sessions = new Map<string, Session<Purpose>>();

  constructor(private readonly now: () => number = Date.now) {}

  create(principal: string | null = null): Session<Purpose> {
    this.prune();
    while (this.sessions.size >= MAX_SESSIONS) {
      // Visits that never signed in go first: opening the page many times cannot sign the owner out.
      const byAge = [...this.sessions.values()].sort((a, b) => a.seen - b.seen);
      const oldest = byAge.find((s) => s.principal === null) ?? byAge[0];
      if (!oldest) break;
      this.end(oldest);
    }
    const time = this.now();
    const session: Session<Purpose> = {
      id: randomBytes(32).toString("base64url"),
      csrf: randomBytes(32).toString("base64url"),
      created: time,
      seen: time,
      principal,
      challenges: new Map(),
      streams: new Set(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (and it counts as used now), or null. */
  get(id: string | undefined): Session<Purpose> | null {
    if (id === undefined) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    const time = this.now();
    if (this.expired(session, time)) {
      this.end(session);
      return null;
    }
    session.seen = time;
    return session;
  }

  /** Replaces `session` with a signed-in one. */
  signIn(session: Session<Purpose>, principal: string): Session<Purpose> {
    this.end(session);
    return this.create(principal);
  }

  end(session: Session<Purpose>): void {
    this.sessions.delete(session.id);
    session.challenges.clear();
    for (const close of [...session.streams]) close();
  }

  /** Whether the session is still open (event streams check it as they go). */
  alive(session: Session<Purpose>): boolean {
    return this.sessions.get(session.id) === session && !this.expired(session, this.now());
  }

  issue(session: Session<Purpose>, purpose: Purpose, challenge: string, intent = ""): void {
    session.challenges.set(purpose, { challenge, intent, expires: this.now() + CHALLENGE_MS });
  }

  /** Takes the outstanding challenge for `purpose` (spent whatever happens next), if still fresh. */
  take(session: Session<Purpose>, purpose: Purpose): Challenge | null {
    const challenge = session.challenges.get(purpose);
    session.challenges.delete(purpose);
    if (!challenge || challenge.expires < this.now()) return null;
    return challenge;
  }

  private expired(session: Session<Purpose>, time: number): boolean {
    return time - session.seen > IDLE_MS || time - session.created > LIFETIME_MS;
  }

  private prune(): void {
    const time = this.now();
    for (const session of [...this.sessions.values()]) {
      if (this.expired(session, time)) this.end(session);
    }
  }
}

/** Compares two tokens in constant time. */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
