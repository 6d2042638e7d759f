import { type Context, Hono } from "hono";
import type { KeyAlgorithm } from "../derive/derivation.js";
import { publicKeyPem } from "../derive/public-key.js";
import { certificateDays, signingAlgorithm } from "../element/inputs.js";
import { UsageError } from "../errors.js";
import type { PageContext } from "./page-context.js";

const ALGORITHMS: readonly KeyAlgorithm[] = ["ed25519", "x25519", "p256"];

/**
 * The element's public keys and a self-signed certificate, as `reid keys --pem` and `reid cert`
 * give them (neither is an owner operation, §2.8): GET /api/keys (hex, for the panel),
 * GET /api/keys/ALG.pem (a SubjectPublicKeyInfo PEM) and GET /api/certificate?algorithm=&days=
 * (a PEM certificate), both as files to save. Plain links, so no script handles the download and
 * the CSP needs no blob: URL.
 */
export function keysApp(page: PageContext): Hono {
  const app = new Hono();

  app.get("/keys", async (c) => {
    page.requireSignedIn(c);
    return c.json(await page.reader.keys());
  });

  app.get("/keys/:file", async (c) => {
    const algorithm = pemAlgorithm(c.req.param("file"));
    page.requireSignedIn(c);
    const keys = await page.reader.keys();
    const pem = publicKeyPem(algorithm, Buffer.from(keys[algorithm], "hex"));
    return attachment(c, `reid-${keys.handle.slice(0, 8)}-${algorithm}.pem`, pem);
  });

  app.get("/certificate", async (c) => {
    const algorithm = signingAlgorithm(c.req.query("algorithm"));
    const days = certificateDays(c.req.query("days"));
    page.requireSignedIn(c);
    const { handle } = await page.reader.keys();
    const pem = await page.reader.certificate(algorithm, days);
    return attachment(c, `reid-${handle.slice(0, 8)}-${algorithm}-cert.pem`, pem);
  });

  return app;
}

function pemAlgorithm(file: string): KeyAlgorithm {
  const algorithm = ALGORITHMS.find((alg) => file === `${alg}.pem`);
  if (algorithm) return algorithm;
  throw new UsageError("the key files are ed25519.pem, x25519.pem and p256.pem");
}

/** A PEM text as a file to save, named `name`. */
export function attachment(c: Context, name: string, pem: string) {
  c.header("Content-Type", "application/x-pem-file");
  c.header("Content-Disposition", `attachment; filename="${name}"`);
  return c.body(pem);
}
