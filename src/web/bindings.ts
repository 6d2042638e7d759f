import { Hono } from "hono";
import type { Actor } from "../auth/actor.js";
import { objectBody } from "../http/body.js";
import { idField, json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

/** A binding as the page lists it (the binding's own entry, as `reid bindings` shows it). */
export interface PageBindingEntry {
  readonly role: "user" | "device";
  readonly handle: string;
  readonly bound: string;
  readonly address?: string;
}

/**
 * The element's bindings as the page reaches them: the daemon hands in its binding operations
 * (the same `bindings` and `unbind` that `reid bindings` and `reid unbind` run through the socket,
 * gated and audited by the element), so the page keeps no bindings of its own.
 */
export interface PageBindings {
  list(): Promise<{ handle: string; bindings: readonly PageBindingEntry[] }>;
  /** Removes the binding with `handle`, acting for `actor`, whose proof the owner gate checks. */
  unbind(actor: Actor, handle: string): Promise<{ removed: PageBindingEntry; notified: boolean }>;
}

/**
 * GET /api/bindings: the users bound to this element and the devices it is bound to (public keys'
 * handles and addresses only). POST /api/bindings/:handle/unbind: removes one, with its own fresh
 * proof (docs/spec.md §8.4).
 */
export function bindingsApp(page: PageContext, proofs: Proofs, bindings: PageBindings): Hono {
  const app = new Hono();

  app.get("/bindings", async (c) => {
    page.requireSignedIn(c);
    return c.json(await bindings.list());
  });

  app.post("/bindings/:handle/unbind", json, async (c) => {
    const handle = idField(c.req.param("handle"), "binding handle");
    const body = await objectBody(c, ["proof"]);
    const session = page.requireSignedIn(c);
    const actor = await proofs.actor(session, body.proof, `unbind:${handle}`, "unbind");
    return c.json(await bindings.unbind(actor, handle));
  });

  return app;
}
