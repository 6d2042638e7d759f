import { generateRegistrationOptions } from "@simplewebauthn/server";
import { Hono } from "hono";
import { passkeyName, passkeyRegistration } from "../element/inputs.js";
import { objectBody } from "../http/body.js";
import { idField, json, pinField } from "./fields.js";
import { type PageContext, RP_ID } from "./page-context.js";
import type { Proofs } from "./proof.js";

/**
 * The owner's passkeys: registering one (a signed-in session, the PIN typed again, a name for it,
 * and the authenticator's answer to a challenge issued to this session) and removing one (a fresh proof).
 * The element keeps them, verifies the registration and records both (passkey-add, passkey-remove).
 */
export function passkeysApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.post("/passkeys/options", json, async (c) => {
    await objectBody(c, []);
    const session = page.requireSignedIn(c);
    await page.requirePin();
    const { userId } = await page.reader.passkeyUser();
    const registered = await page.reader.listPasskeys();
    const options = await generateRegistrationOptions({
      rpName: "reid",
      rpID: RP_ID,
      userName: "owner",
      userDisplayName: "reid owner",
      userID: Buffer.from(userId, "base64url"),
      attestationType: "none",
      timeout: 60_000,
      excludeCredentials: registered.map((p) => ({ id: p.id, transports: [...p.transports] })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
    });
    page.sessions.issue(session, "register", options.challenge);
    return c.json(options);
  });

  // The element checks (and counts) the PIN before it looks at the registration.
  app.post("/passkeys", json, async (c) => {
    const body = await objectBody(c, ["response", "pin", "name"]);
    const pin = pinField(body.pin);
    const response = passkeyRegistration(body.response);
    const name = passkeyName(body.name);
    const session = page.requireSignedIn(c);
    await page.requirePin();
    const challenge = page.sessions.take(session, "register");
    const element = page.element({ principal: "web:pin", credentials: { pin } });
    const added = await element.addPasskey({
      response,
      origin: page.origin,
      name,
      ...(challenge ? { challenge: challenge.challenge } : {}),
    });
    return c.json({ id: added.id, created: added.created, name });
  });

  app.post("/passkeys/:id/remove", json, async (c) => {
    const id = idField(c.req.param("id"), "passkey id");
    const body = await objectBody(c, ["proof"]);
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, `remove-passkey:${id}`, "passkey-remove");
    return c.json(await element.removePasskey(id));
  });

  return app;
}
