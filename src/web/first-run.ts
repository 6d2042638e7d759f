import { Hono } from "hono";
import { StateError } from "../errors.js";
import { objectBody } from "../http/body.js";
import { json, pinField } from "./fields.js";
import type { PageContext } from "./page-context.js";

/**
 * POST /api/pin: the first run. With no owner PIN there is no owner to prove, and the session
 * itself is the proof: only the owner's account can get the link that opened it (docs/spec.md
 * §8.2), exactly as only it can run `reid pin set` on the store. The element sets the PIN (its rules,
 * its record `pin-set`) and answers the recovery code, shown once. Once a PIN is set this is
 * refused: changing it stays the terminal's (`reid pin change`), with the current PIN.
 */
export function firstRunApp(page: PageContext): Hono {
  const app = new Hono();
  app.post("/pin", json, async (c) => {
    const body = await objectBody(c, ["newPin"]);
    const newPin = pinField(body.newPin, "newPin");
    page.requireSession(c);
    if ((await page.reader.status()).owner.pin) throw alreadySet();
    // No credentials: were a PIN set meanwhile (by the CLI), the element would take this for a
    // change without the current PIN and refuse it, so a race sets nothing.
    const { recoveryCode } = await page.element({ principal: "web" }).setPin(newPin);
    if (recoveryCode === null) throw alreadySet();
    return c.json({ recoveryCode });
  });
  return app;
}

function alreadySet(): StateError {
  return new StateError("pin-already-set", "an owner PIN is already set: sign in with it");
}
