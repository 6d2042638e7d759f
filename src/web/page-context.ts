import type { Context } from "hono";
import type { Actor } from "../auth/actor.js";
import type { ElementApi } from "../element/api.js";
import { ExitCode } from "../errors.js";
import { SessionCookie } from "../http/browser/session-cookie.js";
import { type Session as BrowserSession, Sessions } from "../http/browser/sessions.js";
import { HttpError } from "../http/wire.js";

/** WebAuthn wants a domain as relying party id, never an IP address: the page is always localhost. */
export const RP_ID = "localhost";
const COOKIE = new SessionCookie("reid_session", { secure: false });

/** What a passkey challenge is issued for: signing in, registering, or one proof of one operation. */
export type ChallengePurpose = "sign-in" | "register" | "proof";
export type Session = BrowserSession<ChallengePurpose>;

/** A refusal of the page itself (not the element's), with its HTTP status. */
export class PageError extends HttpError {
  constructor(
    status: 400 | 401 | 403 | 404 | 421,
    code: string,
    message: string,
    exit: ExitCode = status === 400 || status === 404 ? ExitCode.usage : ExitCode.auth,
  ) {
    super(status, code, exit, message);
  }
}

/**
 * What the page's sub-apps share: the element, reached only through its API and acting for whoever
 * the sub-app proved; the sessions; and the checks that come before any work.
 */
export class PageContext {
  readonly sessions = new Sessions<ChallengePurpose>();
  /** The element for reads (status, the passkey list): they are not audited, so any label will do. */
  readonly reader: ElementApi;

  /**
   * The element acting for `actor`: its owner gate checks the actor's proof and audits as them. A
   * PIN typed here counts on the page's own tries (docs/spec.md §2.8), whichever sub-app took it.
   */
  readonly element: (actor: Actor) => ElementApi;

  constructor(
    element: (actor: Actor) => ElementApi,
    /** The page's origin, http://localhost:PORT: the only Origin and Host accepted. */
    readonly origin: string,
  ) {
    this.element = (actor) => element(pageActor(actor));
    this.reader = element({ principal: "web" });
  }

  session(c: Context): Session | null {
    return this.sessions.get(COOKIE.read(c));
  }

  setCookie(c: Context, session: Session): void {
    COOKIE.write(c, session.id);
  }

  requireSession(c: Context): Session {
    const session = this.session(c);
    if (!session) throw new PageError(401, "no-session", "no session (or it expired): reload the page");
    return session;
  }

  requireSignedIn(c: Context): Session {
    const session = this.session(c);
    if (!session?.principal) throw new PageError(401, "not-signed-in", "sign in first");
    return session;
  }

  /** Without an owner PIN there is no owner to authenticate: the page does nothing. */
  async requirePin(): Promise<void> {
    if (!(await this.reader.status()).owner.pin) {
      throw new PageError(
        403,
        "no-pin",
        "no owner PIN is set: set it on this page or with 'reid pin set'; the page acts only for an authenticated owner",
      );
    }
  }
}

/**
 * `actor` as the page hands it on: a PIN typed on the page counts on the page's own tries
 * (docs/spec.md §2.8), whichever operation it proves, the element's or the binding's.
 */
export function pageActor(actor: Actor): Actor {
  return actor.credentials ? { ...actor, credentials: { ...actor.credentials, tries: "page" } } : actor;
}
