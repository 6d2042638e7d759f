import type { Context, Hono } from "hono";
import { UsageError } from "../errors.js";
import { bodyLimit, objectBody } from "./body.js";
import { type Operation, readsBody, sourceOf, type Table } from "./operation.js";
import { readFields, shorten } from "./schema.js";
import { type EventFeed, eventStream } from "./sse.js";

/** Whatever carries out the operations: a method for each, named as the operation. */
// biome-ignore lint/suspicious/noExplicitAny: each method takes the parameters its operation's args name
type Implementation<O> = { readonly [K in keyof O]: (...args: any[]) => unknown };

/**
 * Serves every operation of `table` on `app`: the body limit, the input read and checked field by
 * field (a bad one is a 400 naming it), the method of `implementation` called, the answer written
 * as the table says. Nothing a client sends reaches the implementation unchecked.
 */
export function serveOperations<O extends Readonly<Record<string, Operation>>>(
  app: Hono,
  table: Table<O>,
  implementation: (c: Context) => Implementation<O> | Promise<Implementation<O>>,
): void {
  const routes = new Map<string, [string, Operation][]>();
  for (const [name, operation] of Object.entries(table.operations)) {
    const key = `${operation.method} ${operation.path}`;
    routes.set(key, [...(routes.get(key) ?? []), [name, operation]]);
  }
  for (const shared of routes.values()) {
    const [[, first]] = shared as [[string, Operation]];
    const limit = readsBody(first) ? [bodyLimit(first.limit ?? table.limit)] : [];
    app.on(first.method, [first.path], ...limit, async (c) => {
      const body = jsonFields(first).length > 0 ? await objectBody(c, allFields(shared), table.first) : {};
      const [name, operation] = chosen(shared, body);
      const input = await readInput(c, operation, body);
      try {
        const target = (await implementation(c)) as Record<string, (...args: unknown[]) => unknown>;
        const method = target[name] as (...args: unknown[]) => unknown;
        if (operation.output?.events) return eventStream(c, method.call(target) as EventFeed<object>);
        const args = operation.args ? operation.args.map((arg) => input[arg]) : [input];
        return c.json(written(operation, await method.apply(target, args)) as object);
      } finally {
        // Bytes decoded from the request (a wrapping key) do not outlive the call.
        for (const [field, schema] of Object.entries(operation.input ?? {})) {
          if (sourceOf(schema) !== "raw" && input[field] instanceof Uint8Array) input[field].fill(0);
        }
      }
    });
  }
}

function jsonFields(operation: Operation): string[] {
  return Object.entries(operation.input ?? {})
    .filter(([, schema]) => sourceOf(schema) === "body")
    .map(([name]) => name);
}

function allFields(shared: readonly [string, Operation][]): string[] {
  return [...new Set(shared.flatMap(([, operation]) => jsonFields(operation)))];
}

/** Of the operations sharing a route, the one whose `when` field the body carries, or the one with none. */
function chosen(shared: readonly [string, Operation][], body: Record<string, unknown>): [string, Operation] {
  const pick =
    shared.find(([, operation]) => operation.when !== undefined && body[operation.when] !== undefined) ??
    shared.find(([, operation]) => operation.when === undefined) ??
    (shared[0] as [string, Operation]);
  const own = jsonFields(pick[1]);
  const unknown = Object.keys(body).find((key) => !own.includes(key));
  if (unknown !== undefined) throw new UsageError(`unknown field '${shorten(unknown, 64)}'`);
  return pick;
}

/** The operation's input: the fields from the path, the query and the JSON body first, then the raw body. */
async function readInput(
  c: Context,
  operation: Operation,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const fields = Object.entries(operation.input ?? {});
  const sent: Record<string, unknown> = {};
  for (const [name, schema] of fields) {
    const from = sourceOf(schema);
    if (from === "path") sent[name] = c.req.param(name);
    else if (from === "query") sent[name] = c.req.query(name);
    else if (from === "body" && Object.hasOwn(body, name)) sent[name] = body[name];
  }
  const placed = Object.fromEntries(fields.filter(([, schema]) => sourceOf(schema) !== "raw"));
  const input: Record<string, unknown> = readFields(
    placed,
    sent,
    operation.what ? { what: operation.what } : {},
  );
  for (const [name] of fields.filter(([, schema]) => sourceOf(schema) === "raw")) {
    input[name] = new Uint8Array(await c.req.arrayBuffer());
  }
  return input;
}

/** The API's value as the answer carries it. */
function written(operation: Operation, value: unknown): unknown {
  const output = operation.output;
  if (output?.field) return { [output.field]: value };
  if (output?.hex) {
    const copy = { ...(value as Record<string, unknown>) };
    for (const field of output.hex) copy[field] = Buffer.from(copy[field] as Uint8Array).toString("hex");
    return copy;
  }
  return value;
}
