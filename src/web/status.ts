import { Hono } from "hono";
import type { ElementStatus } from "../element/api.js";
import type { PageContext } from "./page-context.js";

/**
 * GET /api/status: before sign-in, what `reid status` shows anyone (state, generation, handle,
 * mode), so the owner sees which element the page is for before proving anything; signed in, the
 * public status.
 */
export function statusApp(page: PageContext): Hono {
  const app = new Hono();
  app.get("/status", async (c) => {
    const session = page.requireSession(c);
    const status = await page.reader.status();
    if (!session.principal) {
      const { state, generation, handle, mode } = status;
      return c.json({ state, generation, handle, mode });
    }
    return c.json(publicStatus(status));
  });
  return app;
}

/** Never the identifier, nor the store's path, the factory source or the sealing key's id. */
function publicStatus(status: ElementStatus) {
  const { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner } = status;
  return { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner };
}
