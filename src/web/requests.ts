import { Hono } from "hono";
import { REQUEST_TYPES, scheduleTime } from "../element/inputs.js";
import { UsageError } from "../errors.js";
import { objectBody } from "../http/body.js";
import { oneOf, text } from "../http/schema.js";
import { idField, json } from "./fields.js";
import type { PageContext } from "./page-context.js";
import type { Proofs } from "./proof.js";

const requestType = oneOf(REQUEST_TYPES);
const formatText = text({ max: 64 });

/**
 * Requests and the schedule: init, reset and erase now, at a time, and cancelling a scheduled one.
 * Each carries its own fresh proof; the element checks the format, the proof and the state, and
 * records the outcome under the request's name.
 */
export function requestsApp(page: PageContext, proofs: Proofs): Hono {
  const app = new Hono();

  app.post("/requests", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "confirm", "proof"]);
    const type = requestType.read(body.type, "type");
    const format = formatField(body.format);
    const session = page.requireSignedIn(c);
    // Checked before the proof is spent on it: nothing is counted or recorded.
    if (type === "erase") await confirmErase(page, body.confirm);
    else if (body.confirm !== undefined) throw new UsageError("'confirm' is for an erase only");
    const element = await proofs.prove(session, body.proof, type, type);
    return c.json(await element.submit(type, format));
  });

  app.post("/schedule", json, async (c) => {
    const body = await objectBody(c, ["type", "format", "at", "proof"]);
    const type = requestType.read(body.type, "type");
    const format = formatField(body.format);
    if (typeof body.at !== "string") throw new UsageError("'at' must be an ISO-8601 time with a zone");
    // Checked before the proof is spent on it.
    scheduleTime(body.at, new Date());
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, `schedule-${type}`, `schedule-${type}`);
    return c.json(await element.schedule(type, format, body.at));
  });

  app.post("/schedule/:id/cancel", json, async (c) => {
    const id = idField(c.req.param("id"), "schedule id");
    const body = await objectBody(c, ["proof"]);
    const session = page.requireSignedIn(c);
    const element = await proofs.prove(session, body.proof, `cancel:${id}`, "cancel-schedule");
    return c.json(await element.cancelScheduled(id));
  });

  return app;
}

/**
 * An erase ends the identity for good, so the owner types which one: the handle's short form (its
 * first 8 characters, shown beside its fingerprint), or the word "erase" when there is no handle.
 * A mistyped or missing confirmation erases nothing (docs/spec.md §8.4).
 */
async function confirmErase(page: PageContext, confirm: unknown): Promise<void> {
  const expected = eraseConfirmation((await page.reader.status()).handle);
  if (typeof confirm === "string" && confirm.trim().toLowerCase() === expected) return;
  throw new UsageError(
    `to erase, type ${expected === "erase" ? "the word 'erase'" : `the handle's short form '${expected}'`} to confirm`,
    "confirmation-required",
  );
}

/** What an erase must be confirmed with: the handle's first 8 characters, or "erase" without one. */
function eraseConfirmation(handle: string | null): string {
  return handle === null ? "erase" : handle.slice(0, 8).toLowerCase();
}

/** The format as the owner wrote it ("digits:40"); whether the store can hold it, the element says. */
function formatField(value: unknown): string | undefined {
  if (value === undefined || value === "") return undefined;
  return formatText.read(value, "format");
}
