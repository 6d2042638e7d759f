import { type Context, Hono } from "hono";
import type { ElementApi } from "../element/api.js";
import { UsageError } from "../errors.js";
import { bodyLimit, objectBody } from "../http/body.js";

const JSON_LIMIT = 16 * 1024;

/**
 * The user role and the listing on the daemon's Unix socket, under /v1/binding: the daemon holds the
 * keys and talks to the device, the CLI only asks. Each route checks its fields' types; the
 * binding service checks their values, as it does for a direct call.
 */
export function bindingRoutes(elementFor: (c: Context) => ElementApi): Hono {
  const app = new Hono();
  const json = bodyLimit(JSON_LIMIT);
  const binding = async (c: Context) => (await elementFor(c)).binding();
  app.get("/", async (c) => c.json(await (await binding(c)).bindings()));
  app.post("/bind", json, async (c) => {
    const body = await objectBody(c, ["address", "expectHandle"]);
    return c.json(
      await (await binding(c)).bind(text(body.address, "address"), text(body.expectHandle, "expectHandle")),
    );
  });
  app.post("/command", json, async (c) => {
    const body = await objectBody(c, ["address", "name", "args"]);
    const args = body.args;
    if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
      throw new UsageError("'args' must be a list of strings");
    }
    return c.json(
      await (await binding(c)).command(text(body.address, "address"), text(body.name, "name"), args),
    );
  });
  app.post("/telemetry", json, async (c) => {
    const body = await objectBody(c, ["address", "count"]);
    if (!Number.isSafeInteger(body.count)) throw new UsageError("'count' must be an integer");
    return c.json(await (await binding(c)).telemetry(text(body.address, "address"), body.count as number));
  });
  app.delete("/:handle", async (c) => c.json(await (await binding(c)).unbind(c.req.param("handle"))));
  return app;
}

function text(value: unknown, name: string): string {
  if (typeof value !== "string" || value.length > 300)
    throw new UsageError(`'${name}' must be a short string`);
  return value;
}
