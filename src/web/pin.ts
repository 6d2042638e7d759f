import { Hono } from "hono";
import { UsageError } from "../errors.js";
import { objectBody } from "../http/body.js";
import { text } from "../http/schema.js";
import { json, pinField } from "./fields.js";
import type { PageContext } from "./page-context.js";

const recovery = text({
  max: 64,
  message: (name) => `'${name}' must be the recovery code (at most 64 characters)`,
});

/**
 * The owner PIN after the first run, as `reid pin change` and `reid pin unlock` handle it
 * (docs/spec.md §2.8, §8.4):
 * - POST /api/pin/change: the present PIN in `pin` (a passkey does not change the PIN, as on the
 *   terminal, where only the present PIN does), counted on the page's own tries; the element checks
 *   it, sets `newPin` and records `pin-change`.
 * - POST /api/pin/unlock: the recovery code, which the element spends and replaces, as the terminal
 *   takes it: from the owner's account, and here from the session its link opened, signed in or
 *   not, since five wrong PINs may be why nobody can sign in.
 */
export function pinApp(page: PageContext): Hono {
  const app = new Hono();

  app.post("/pin/change", json, async (c) => {
    const body = await objectBody(c, ["pin", "newPin"]);
    if (body.pin === undefined) {
      throw new UsageError("a PIN change needs the present PIN in 'pin' (a passkey does not change it)");
    }
    const present = pinField(body.pin);
    const newPin = pinField(body.newPin, "newPin");
    page.requireSignedIn(c);
    await page.requirePin();
    const element = page.element({ principal: "web:pin", credentials: { pin: present } });
    const { recoveryCode } = await element.setPin(newPin);
    return c.json({ pin: "changed", recoveryCode });
  });

  app.post("/pin/unlock", json, async (c) => {
    const body = await objectBody(c, ["recoveryCode"]);
    const code = recovery.read(body.recoveryCode, "recoveryCode");
    const session = page.requireSession(c);
    await page.requirePin();
    return c.json(await page.element({ principal: session.principal ?? "web" }).unlockPin(code));
  });

  return app;
}
