import { type Context, Hono } from "hono";
import { passkeyAssertion } from "../element/inputs.js";
import { objectBody } from "../http/body.js";
import { json, pinField } from "./fields.js";
import type { PageContext, Session } from "./page-context.js";
import type { Proofs } from "./proof.js";

/**
 * Sessions, sign-in and sign-out. A session exists from the opening of a link of `reid page` (so
 * even the sign-in forms carry a CSRF token); signing in, with the owner's PIN or a passkey with user verification, is
 * checked and recorded by the element (web-sign-in) and replaces the session with a new one. It
 * opens the page and nothing more: every operation still carries its own proof.
 */
export function signInApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.get("/session", async (c) => c.json(await describe(page, page.requireSession(c))));

  app.post("/sign-in/pin", json, async (c) => {
    const body = await objectBody(c, ["pin"]);
    const pin = pinField(body.pin);
    const session = page.requireSession(c);
    await page.requirePin();
    const { principal } = await page.element({ principal: "web:pin", credentials: { pin } }).signIn();
    return signedIn(page, c, session, principal);
  });

  app.post("/sign-in/passkey/options", json, async (c) => {
    await objectBody(c, []);
    const session = page.requireSession(c);
    await page.requirePin();
    return c.json(await proofs.options(session, "sign-in"));
  });

  app.post("/sign-in/passkey", json, async (c) => {
    const body = await objectBody(c, ["response"]);
    const response = passkeyAssertion(body.response);
    const session = page.requireSession(c);
    await page.requirePin();
    const actor = await proofs.passkeyActor(session, "sign-in", response, "", "web-sign-in");
    const { principal } = await page.element(actor).signIn();
    return signedIn(page, c, session, principal);
  });

  app.post("/sign-out", json, async (c) => {
    await objectBody(c, []);
    const session = page.requireSession(c);
    page.sessions.end(session);
    const fresh = page.sessions.create();
    page.setCookie(c, fresh);
    return c.json(await describe(page, fresh));
  });

  return app;
}

async function signedIn(page: PageContext, c: Context, session: Session, principal: string) {
  const fresh = page.sessions.signIn(session, principal);
  page.setCookie(c, fresh);
  return c.json(await describe(page, fresh));
}

/** The session as the page shows it; before sign-in, only whether there is an owner to sign in as. */
async function describe(page: PageContext, session: Session) {
  const { owner } = await page.reader.status();
  const passkeys = await page.reader.listPasskeys();
  const signedIn = session.principal !== null;
  return {
    signedIn,
    principal: session.principal,
    csrf: session.csrf,
    owner: signedIn ? owner : { pin: owner.pin, locked: owner.locked },
    passkeyCount: passkeys.length,
    passkeys: signedIn
      ? passkeys.map(({ id, name, created, lastUsed }) => ({ id, name, created, lastUsed }))
      : [],
  };
}
