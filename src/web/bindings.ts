import { Hono } from "hono";
import type { Actor } from "../auth/actor.js";
import type { BindResult, CommandResult, TelemetryResult } from "../binding/api.js";
import {
  checkCommandShape,
  handleText,
  MAX_READINGS,
  parseDeviceAddress,
  setupCode,
} from "../binding/inputs.js";
import { ExitCode, ReidError } from "../errors.js";
import { objectBody } from "../http/body.js";
import { text, whole } from "../http/schema.js";
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
  /** Binds this element as a user to the device at `address`, acting for `actor` (`reid bind`). */
  bind(actor: Actor, address: string, expectHandle: string, code: string): Promise<BindResult>;
  /** Sends the bound device at `address` a command, acting for `actor` (`reid command`). */
  command(actor: Actor, address: string, name: string, args: readonly string[]): Promise<CommandResult>;
  /** Reads the bound device's telemetry, acting for `actor` (`reid telemetry --count`). */
  telemetry(actor: Actor, address: string, count: number): Promise<TelemetryResult>;
}

const addressText = text({ max: 300, message: (name) => `'${name}' must be the device's HOST:PORT` });
const codeText = text({ max: 64, message: (name) => `'${name}' must be the setup code (XXXXX-XXXXX)` });

const readings = whole({
  min: 1,
  max: MAX_READINGS,
  message: () => `'count' must be 1 to ${MAX_READINGS} readings`,
});

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

  // The user role: binding to a device with the setup code its owner's `reid pair` shows, as
  // `reid bind` does; the device proves the expected handle before anything is stored.
  app.post("/bind", json, async (c) => {
    const body = await objectBody(c, ["address", "handle", "code", "proof"]);
    const address = parseDeviceAddress(addressText.read(body.address, "address"), "device address").address;
    const device = handleText.read(body.handle, "handle");
    // Checked before the proof is spent on it; the code itself goes only to the binding operation.
    const code = setupCode(codeText.read(body.code, "code"));
    const session = page.requireSignedIn(c);
    const actor = await proofs.actor(session, body.proof, `bind:${device}`, "bind");
    return c.json(await bindings.bind(actor, address, device, code));
  });

  // The user role, toward a device this element is bound to (its address from the binding, as
  // listed): `reid command` and `reid telemetry`, each with its own fresh proof; the page never
  // passes through the unlock window, which is for the owner's scripts on the socket.
  app.post("/bindings/:handle/command", json, async (c) => {
    const handle = idField(c.req.param("handle"), "binding handle");
    const body = await objectBody(c, ["name", "args", "proof"]);
    const args = (body.args ?? []) as readonly string[];
    // The shape the device checks, checked before the proof is spent on it.
    checkCommandShape(body.name as string, args);
    const name = body.name as string;
    const session = page.requireSignedIn(c);
    const address = await deviceAt(bindings, handle);
    const actor = await proofs.actor(session, body.proof, `command:${handle}`, `command:${name}`);
    return c.json(await bindings.command(actor, address, name, args));
  });

  app.post("/bindings/:handle/telemetry", json, async (c) => {
    const handle = idField(c.req.param("handle"), "binding handle");
    const body = await objectBody(c, ["count", "proof"]);
    const count = body.count === undefined ? 1 : readings.read(body.count, "count");
    const session = page.requireSignedIn(c);
    const address = await deviceAt(bindings, handle);
    const actor = await proofs.actor(session, body.proof, `telemetry:${handle}`, "telemetry");
    return c.json(await bindings.telemetry(actor, address, count));
  });

  return app;
}

/** Where the device with `handle` that this element is bound to was last seen; not-bound otherwise. */
async function deviceAt(bindings: PageBindings, handle: string): Promise<string> {
  const { bindings: all } = await bindings.list();
  const device = all.find((b) => b.role === "device" && b.handle === handle);
  if (device?.address) return device.address;
  throw new ReidError(
    "not-bound",
    ExitCode.state,
    `this element is bound to no device with handle ${handle}`,
  );
}
