import { Hono } from "hono";
import { objectBody } from "../http/body.js";
import { flag, oneOf, optional } from "../http/schema.js";
import type { ElementMode } from "../storage/record.js";
import { json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

const MODES: readonly ElementMode[] = ["random", "factory"];
const mode = oneOf(MODES);
const unlinkable = optional(flag);

/**
 * The element's settings the owner changes from the page, as `reid mode` and `reid seal` do: the
 * mode switch (random or factory) and sealing the identifier under the daemon's key. Each carries
 * its own fresh proof; the element checks it and records the outcome.
 */
export function settingsApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.post("/mode", json, async (c) => {
    const body = await objectBody(c, ["mode", "unlinkable", "proof"]);
    const to = mode.read(body.mode, "mode");
    const apart = unlinkable.read(body.unlinkable, "unlinkable");
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, `mode-${to}`, `mode-${to}`);
    return c.json(await element.switchMode(to, apart));
  });

  app.post("/seal", json, async (c) => {
    const body = await objectBody(c, ["proof"]);
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, "seal", "seal");
    const { sealed } = await element.seal();
    return c.json({ sealed });
  });

  return app;
}
