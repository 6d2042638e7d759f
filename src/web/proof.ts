import type { AuthenticationResponseJSON } from "@simplewebauthn/server";
import { generateAuthenticationOptions } from "@simplewebauthn/server";
import { Hono } from "hono";
import type { Actor } from "../auth/actor.js";
import type { ElementApi } from "../element/api.js";
import { passkeyAssertion } from "../element/inputs.js";
import { objectBody } from "../http/body.js";
import { intentField, json, pinField } from "./fields.js";
import {
  type ChallengePurpose,
  type PageContext,
  PageError,
  pageActor,
  RP_ID,
  type Session,
} from "./page-context.js";

/**
 * The fresh proof every operation carries (docs/spec.md §8.3), the one helper the sub-apps share.
 * The page runs the WebAuthn ceremony: it issues a challenge bound to the session and to one
 * operation's intent, spends it on first use, and refuses an answer made for another intent. What
 * the answer proves (a registered passkey, user verification, a counter that went up) the owner
 * gate checks when the operation runs, as it checks a PIN.
 */
export class Proofs {
  constructor(private readonly page: PageContext) {}

  /**
   * The element acting for the owner who proved `intent`: the PIN typed again ({pin}) or an
   * assertion ({passkey}) answering the challenge issued for exactly this intent. Without either,
   * nothing happens, whatever the session: the refusal is recorded under `name` and thrown.
   */
  async prove(session: Session, proof: unknown, intent: string, name: string): Promise<ElementApi> {
    return this.page.element(await this.actor(session, proof, intent, name));
  }

  /**
   * The owner who proved `intent`, as the gate of the operation it runs checks them (for the
   * operations outside ElementApi, such as opening a pairing window): the same proofs, refused alike.
   */
  async actor(session: Session, proof: unknown, intent: string, name: string): Promise<Actor> {
    await this.page.requirePin();
    const given = (proof ?? {}) as Record<string, unknown>;
    if (typeof given === "object" && typeof given.pin === "string") {
      return pageActor({ principal: "web:pin", credentials: { pin: pinField(given.pin) } });
    }
    if (typeof given === "object" && given.passkey !== undefined) {
      const response = passkeyAssertion(given.passkey);
      return pageActor(await this.passkeyActor(session, "proof", response, intent, name));
    }
    return this.page.element({ principal: session.principal ?? "web" }).refuseProof(name, "proof-required");
  }

  /**
   * The actor a passkey answer makes, for the gate to check: the session's challenge for `purpose`
   * is spent now, whatever happens next, and one issued for another intent is refused (recorded
   * under `name`). A missing challenge is the gate's to refuse, in the operation's own record.
   */
  async passkeyActor(
    session: Session,
    purpose: ChallengePurpose,
    response: AuthenticationResponseJSON,
    intent: string,
    name: string,
  ): Promise<Actor> {
    const challenge = this.page.sessions.take(session, purpose);
    const registered = (await this.page.reader.listPasskeys()).some((p) => p.id === response.id);
    const principal = registered ? `web:passkey:${response.id}` : "web:passkey";
    if (challenge && challenge.intent !== intent) {
      await this.page.element({ principal }).refuseProof(name, "challenge-mismatch");
    }
    const passkey = {
      response,
      origin: this.page.origin,
      ...(challenge ? { challenge: challenge.challenge } : {}),
    };
    return { principal, credentials: { passkey } };
  }

  /** Options for an assertion, its challenge issued to the session for `purpose` and `intent`. */
  async options(session: Session, purpose: ChallengePurpose, intent = "") {
    const registered = await this.page.reader.listPasskeys();
    if (registered.length === 0) {
      throw new PageError(
        400,
        "no-passkey",
        "no passkey is registered: sign in with the PIN and register one first",
      );
    }
    const options = await generateAuthenticationOptions({
      rpID: RP_ID,
      userVerification: "required",
      timeout: 60_000,
      allowCredentials: registered.map((p) => ({ id: p.id, transports: [...p.transports] })),
    });
    this.page.sessions.issue(session, purpose, options.challenge, intent);
    return options;
  }
}

/** POST /api/proof/options: a challenge for one operation's passkey proof. */
export function proofApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();
  app.post("/proof/options", json, async (c) => {
    const body = await objectBody(c, ["intent"]);
    const intent = intentField(body.intent);
    const session = page.requireSignedIn(c);
    await page.requirePin();
    return c.json(await proofs.options(session, "proof", intent));
  });
  return app;
}
