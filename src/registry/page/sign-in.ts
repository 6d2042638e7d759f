import { type Context, Hono } from "hono";
import { UsageError } from "../../errors.js";
import { bodyLimit, objectBody } from "../../http/body.js";
import type { Session } from "../../http/browser/sessions.js";
import { OPERATOR_BODY_LIMIT } from "../api/operations.js";
import { checkOperatorToken, OPERATOR_TOKEN_SYNTAX } from "../api/operator-token.js";
import type { RegistryStore } from "../store/store.js";
import { OPERATOR_PRINCIPAL, type OperatorSessions } from "./sessions.js";

const TOKEN = new RegExp(`^${OPERATOR_TOKEN_SYNTAX}$`);

/**
 * The page's session, sign-in and sign-out. Signing in checks the pasted operator token as the
 * bearer API checks it (its digest looked up in the database) and replaces the session with a new
 * one; the token goes no further than this call: the browser keeps the session's cookie, never it.
 */
export function signInApp(
  store: Pick<RegistryStore, "isOperatorToken" | "lastEventSequence">,
  sessions: OperatorSessions,
): Hono {
  const app = new Hono();
  const json = bodyLimit(OPERATOR_BODY_LIMIT);

  app.get("/session", async (c) => c.json(await view(store, sessions.open(c))));

  app.post("/sign-in", json, async (c) => {
    const body = await objectBody(c, ["token"]);
    const session = sessions.requireSession(c);
    if (typeof body.token !== "string" || !TOKEN.test(body.token)) {
      throw new UsageError("'token' must be the operator token (the registry directory's operator.token)");
    }
    await checkOperatorToken(store, body.token, "the token");
    return answer(c, sessions.sessions.signIn(session, OPERATOR_PRINCIPAL));
  });

  app.post("/sign-out", json, async (c) => {
    await objectBody(c, []);
    sessions.sessions.end(sessions.requireSession(c));
    return answer(c, sessions.sessions.create());
  });

  async function answer(c: Context, session: Session) {
    return c.json(await view(store, sessions.start(c, session)));
  }
  return app;
}

/**
 * The session as the page shows it: its CSRF token and, signed in, the newest event's sequence
 * (the live panel starts a few events before it); before sign-in nothing of the registry.
 */
async function view(store: Pick<RegistryStore, "lastEventSequence">, session: Session) {
  const signedIn = session.principal === OPERATOR_PRINCIPAL;
  return {
    signedIn,
    csrf: session.csrf,
    lastEventSequence: signedIn ? await store.lastEventSequence() : null,
  };
}
