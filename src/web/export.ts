import { Hono } from "hono";
import { objectBody } from "../http/body.js";
import { bytes } from "../http/schema.js";
import { json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

const wrapKey = bytes({ length: 32 }, (name) => `'${name}' must be the 32-byte wrap key, in hex`);

/**
 * POST /api/export: the identifier wrapped under the owner's 32-byte key (AES-256 key wrap with
 * padding, RFC 5649), as `reid export --wrap-key FILE` prints it, with its own fresh proof (the
 * element's `export` owner operation). Never the identifier itself: the page cannot ask for it.
 */
export function exportApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();
  app.post("/export", json, async (c) => {
    const body = await objectBody(c, ["wrapKey", "proof"]);
    const key = wrapKey.read(body.wrapKey, "wrapKey");
    try {
      const session = page.requireSignedIn(c);
      const element = await proofs.prove(session, body.proof, "export", "export");
      const { wrapped, generation, handle } = await element.exportWrapped(key);
      const hex = Buffer.from(wrapped).toString("hex");
      return c.json({ wrapped: hex, algorithm: "aes256-wrap-pad", generation, handle });
    } finally {
      key.fill(0);
    }
  });
  return app;
}
