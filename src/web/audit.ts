import { Hono } from "hono";
import type { PageContext } from "./page-context.js";

/** The newest records the page shows; the whole log is `reid log`'s. */
const SHOWN = 25;

/**
 * GET /api/log: the audit log's newest records, newest first, with what `reid log --verify`
 * concludes about the whole chain (docs/spec.md §9.4). Public facts only, as the log holds them.
 */
export function auditApp(page: PageContext): Hono {
  const app = new Hono();
  app.get("/log", async (c) => {
    page.requireSignedIn(c);
    const { records, verdict } = await page.reader.auditLog();
    return c.json({ total: records.length, records: records.slice(-SHOWN).reverse(), verdict });
  });
  return app;
}
