import { Hono } from "hono";
import type { ElementStatus } from "../element/api.js";
import type { PageContext } from "./page-context.js";

/** GET /api/status: the element's status for a signed-in owner, public facts only. */
export function statusApp(page: PageContext): Hono {
  const app = new Hono();
  app.get("/status", async (c) => {
    page.requireSignedIn(c);
    return c.json(publicStatus(await page.reader.status()));
  });
  return app;
}

/** Never the identifier, nor the store's path, the factory source or the sealing key's id. */
function publicStatus(status: ElementStatus) {
  const { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner } = status;
  return { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner };
}
