import type { Context } from "hono";
import { ExitCode } from "../../errors.js";
import { SessionCookie } from "../../http/browser/session-cookie.js";
import { LIFETIME_MS, type Session, Sessions } from "../../http/browser/sessions.js";
import { HttpError } from "../../http/wire.js";

/** Who a signed-in session of the operator's page acts as. */
export const OPERATOR_PRINCIPAL = "operator";

/**
 * The operator's page's sessions (docs/spec.md §10.11): in the server's memory, carried by a
 * Secure, HttpOnly, SameSite=Strict cookie that the browser drops when the session could live no
 * longer. A session exists before sign-in only to carry the sign-in form's CSRF token.
 */
export class OperatorSessions {
  readonly sessions = new Sessions();
  private readonly cookie = new SessionCookie("reid_operator", {
    secure: true,
    maxAgeSeconds: LIFETIME_MS / 1000,
  });

  session(c: Context): Session | null {
    return this.sessions.get(this.cookie.read(c));
  }

  /** The browser's session, or a new one (not signed in) with its cookie. */
  open(c: Context): Session {
    return this.session(c) ?? this.start(c, this.sessions.create());
  }

  start(c: Context, session: Session): Session {
    this.cookie.write(c, session.id);
    return session;
  }

  requireSession(c: Context): Session {
    const session = this.session(c);
    if (!session) {
      throw new HttpError(401, "no-session", ExitCode.auth, "no session (or it expired): reload the page");
    }
    return session;
  }

  /** No signed-in session, no data: every call of the fleet's operations asks this first. */
  requireSignedIn(c: Context): Session {
    const session = this.session(c);
    if (session?.principal !== OPERATOR_PRINCIPAL) {
      throw new HttpError(401, "not-signed-in", ExitCode.auth, "sign in with the operator token first");
    }
    return session;
  }
}
