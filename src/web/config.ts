import { Hono } from "hono";
import { changeSetting, ELEMENT_SETTINGS, settingsView } from "../element/settings-view.js";
import { objectBody } from "../http/body.js";
import { flag, oneOf } from "../http/schema.js";
import { json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

const setting = oneOf(ELEMENT_SETTINGS);

/**
 * The element's settings, as `reid config` shows and changes them (docs/spec.md §8.4): GET
 * /api/config reads them; POST /api/config turns one on or off with its own fresh proof, the same
 * owner operation (`single-type-on`, `passkeys-bypass-lockout-off`...) the CLI runs. The
 * enrollment's `registry-continuity` lives in the store directory, outside the element: the CLI's.
 */
export function configApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.get("/config", async (c) => {
    page.requireSignedIn(c);
    return c.json(settingsView(await page.reader.status()));
  });

  app.post("/config", json, async (c) => {
    const body = await objectBody(c, ["setting", "on", "proof"]);
    const key = setting.read(body.setting, "setting");
    const on = flag.read(body.on, "on");
    const name = `${key}-${on ? "on" : "off"}`;
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, name, name);
    return c.json(settingsView(await changeSetting(element, key, on)));
  });

  return app;
}
