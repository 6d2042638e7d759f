import { Hono } from "hono";
import { signingAlgorithm } from "../element/inputs.js";
import { checkSignature, signatureBytes } from "../element/verify-signature.js";
import { bodyLimit, objectBody } from "../http/body.js";
import { bytes, optional, text } from "../http/schema.js";
import { attachment } from "./keys.js";
import type { PageContext } from "./page-context.js";

/** The longest message the page signs or checks: a file chosen in the browser, sent as hex. */
export const MAX_MESSAGE = 1024 * 1024;
const message = bytes({ max: MAX_MESSAGE }, (name) => `'${name}' must be 1 byte to 1 MiB, in hex`);
/**
 * A signature file's bytes: the raw signature, or its hex as `reid sign` prints it (Ed25519: 64
 * bytes, P-256: at most 72 in DER), told apart by signatureBytes as `reid verify` tells them.
 */
const signatureFile = bytes(
  { max: 512 },
  (name) => `'${name}' must be a signature file's bytes (at most 512), in hex`,
);
const subject = optional(text({ max: 1024 }));
/** The message's hex and a little JSON around it. */
const signingBody = bodyLimit(2 * MAX_MESSAGE + 4096);

/**
 * Signing with the element's derived keys, as `reid sign`, `reid verify` and `reid csr` do (none of
 * them an owner operation, docs/spec.md §2.8): POST /api/sign answers the signature in hex (the page
 * offers it as a file, as `sign --out` writes it), POST /api/verify tells the algorithm from the
 * signature as `reid verify` does (checkSignature, the one rule), and GET /api/csr?algorithm=&subject=
 * is the PEM request as a file to save.
 */
export function signingApp(page: PageContext): Hono {
  const app = new Hono();

  app.post("/sign", signingBody, async (c) => {
    const body = await objectBody(c, ["algorithm", "message"]);
    const algorithm = signingAlgorithm(body.algorithm);
    const bytes = message.read(body.message, "message");
    page.requireSignedIn(c);
    const signed = await page.reader.sign(algorithm, bytes);
    return c.json({
      algorithm,
      handle: signed.handle,
      signature: Buffer.from(signed.signature).toString("hex"),
    });
  });

  app.post("/verify", signingBody, async (c) => {
    const body = await objectBody(c, ["algorithm", "message", "signature"]);
    const given = body.algorithm === undefined ? null : signingAlgorithm(body.algorithm);
    const bytes = message.read(body.message, "message");
    const sig = signatureBytes(signatureFile.read(body.signature, "signature"));
    page.requireSignedIn(c);
    return c.json(await checkSignature(page.reader, bytes, sig, given));
  });

  app.get("/csr", async (c) => {
    const algorithm = signingAlgorithm(c.req.query("algorithm"));
    const dn = subject.read(c.req.query("subject") || undefined, "subject");
    page.requireSignedIn(c);
    const { handle } = await page.reader.keys();
    const pem = await page.reader.certificationRequest(algorithm, dn);
    return attachment(c, `reid-${handle.slice(0, 8)}-${algorithm}.csr`, pem);
  });

  return app;
}
