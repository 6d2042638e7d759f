import { Hono } from "hono";
import type { Actor } from "../auth/actor.js";
import { objectBody } from "../http/body.js";
import { whole } from "../http/schema.js";
import { json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

/** A pairing window as it opened: the setup code is for the owner who asked, on this page only. */
export interface PairingOpened {
  readonly handle: string;
  /** Where the device serves binding, HOST:PORT. */
  readonly address: string;
  readonly code: string;
  /** When the window closes, ISO-8601. */
  readonly until: string;
  readonly tries: number;
  /** What the QR code carries: where the device serves, its handle and the code. */
  readonly uri: string;
}

/**
 * The device role's pairing window as the page reaches it: the daemon hands in its binding
 * operations (the same `pair` that `reid pair` runs through the socket, gated and audited by the
 * element), so the page has no pairing of its own.
 */
export interface PagePairing {
  /** The window's length when the owner names none, and the longest, in seconds (as `reid pair --for`). */
  readonly defaultSeconds: number;
  readonly maxSeconds: number;
  /** HOST:PORT where this daemon serves the device role, or null when it serves none. */
  served(): string | null;
  /** Opens the window for `seconds`, acting for `actor`, whose proof the owner gate checks. */
  open(actor: Actor, seconds: number): Promise<PairingOpened>;
}

/**
 * GET /api/pairing: whether this daemon serves the device role, and the window's bounds.
 * POST /api/pairing: opens the pairing window with its own fresh proof, as every operation of the
 * page does, and answers the setup code with its QR code as SVG (the page inserts it as markup: no
 * script, no data: URL, nothing the CSP would have to allow). Specified in docs/spec.md §8.4.
 */
export function pairingApp(page: PageContext, proofs: Proofs, pairing: PagePairing): Hono {
  const app = new Hono();
  const seconds = whole({
    min: 1,
    max: pairing.maxSeconds,
    message: () => `'seconds' must be a whole number of seconds, 1 to ${pairing.maxSeconds}`,
  });

  app.get("/pairing", (c) => {
    page.requireSignedIn(c);
    const address = pairing.served();
    return c.json({
      device: address === null ? null : { address },
      defaultSeconds: pairing.defaultSeconds,
      maxSeconds: pairing.maxSeconds,
    });
  });

  app.post("/pairing", json, async (c) => {
    const body = await objectBody(c, ["seconds", "proof"]);
    // Checked before the proof is spent on it.
    const length =
      body.seconds === undefined ? pairing.defaultSeconds : seconds.read(body.seconds, "seconds");
    const session = page.requireSignedIn(c);
    const actor = await proofs.actor(session, body.proof, "pair", "pair");
    const { uri, ...opened } = await pairing.open(actor, length);
    const { renderSVG } = await import("uqr");
    return c.json({ ...opened, qr: renderSVG(uri, { ecc: "M", border: 2 }) });
  });

  return app;
}
