import { Hono } from "hono";
import { DEFAULT_UNLOCK_SECONDS, MAX_UNLOCK_SECONDS } from "../auth/actor.js";
import { objectBody } from "../http/body.js";
import { whole } from "../http/schema.js";
import { json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

const seconds = whole({
  min: 1,
  max: MAX_UNLOCK_SECONDS,
  message: () => `'seconds' must be 1 to ${MAX_UNLOCK_SECONDS}`,
});

/**
 * The owner's unlock window from the page (docs/spec.md §2.8, §8.4): opened with a fresh proof,
 * the PIN or a passkey, as `reid unlock` opens it with the PIN; closed without one. The window
 * lets the owner's scripts on the daemon's socket through, never the page's own operations.
 */
export function unlockApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.post("/unlock", json, async (c) => {
    const body = await objectBody(c, ["seconds", "proof"]);
    // Checked before the proof is spent on it.
    const length =
      body.seconds === undefined ? DEFAULT_UNLOCK_SECONDS : seconds.read(body.seconds, "seconds");
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, "unlock", "unlock");
    return c.json(await element.unlock(length));
  });

  app.post("/lock", json, async (c) => {
    await objectBody(c, []);
    const session = page.requireSignedIn(c);
    return c.json(await page.element({ principal: session.principal ?? "web" }).lock());
  });

  return app;
}
