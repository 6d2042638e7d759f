import type { Credentials } from "../auth/actor.js";
import { pinHeader } from "./credentials.js";
import { type Method, type Operation, sourceOf, type Table } from "./operation.js";

/** One request as it goes out. */
export interface Exchange {
  readonly method: Method;
  /** The path with its query, if any. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

/**
 * Sends one request and gives the JSON answer of a success; a failure rejects with the error the
 * other side raised (fromWire), or one naming the connection that failed.
 */
export type Transport = (exchange: Exchange) => Promise<unknown>;

/**
 * The request for `operation` with `input` (the API's values, by field name) and the operation's
 * fixed fields. The owner's PIN, when the caller gave one, goes with every operation: owner
 * operations check it, and a read of a store the TPM keeps under the PIN's authorization proves the
 * owner with it first (docs/spec.md §5.7, §6.2); other operations ignore it.
 */
export function requestFor(
  operation: Operation,
  input: Readonly<Record<string, unknown>>,
  credentials: Credentials = {},
): Exchange {
  let path = operation.path;
  const query = new URLSearchParams();
  const json: Record<string, unknown> = {};
  let raw: Uint8Array | undefined;
  let hasJson = false;
  const values: Readonly<Record<string, unknown>> = { ...operation.fixed, ...input };
  for (const [name, schema] of Object.entries(operation.input ?? {})) {
    const from = sourceOf(schema);
    hasJson ||= from === "body";
    const value = values[name];
    if (value === undefined) continue;
    const sent = schema.write(value);
    if (from === "path") path = path.replace(`:${name}`, encodeURIComponent(String(sent)));
    else if (from === "query") query.set(name, String(sent));
    else if (from === "raw") raw = value as Uint8Array;
    else json[name] = sent;
  }
  const body = raw ?? (hasJson ? Buffer.from(JSON.stringify(json)) : undefined);
  const search = query.toString();
  return {
    method: operation.method,
    path: search ? `${path}?${search}` : path,
    headers: {
      ...(body ? { "content-type": raw ? "application/octet-stream" : "application/json" } : {}),
      ...(credentials.pin !== undefined ? { authorization: pinHeader(credentials.pin) } : {}),
    },
    ...(body ? { body } : {}),
  };
}

/** The API's value from an answer: the inverse of what the server wrote. */
export function answerValue(operation: Operation, answer: unknown): unknown {
  const output = operation.output;
  if (output?.field) return (answer as Record<string, unknown>)[output.field];
  if (output?.hex) {
    const copy = { ...(answer as Record<string, unknown>) };
    for (const field of output.hex) copy[field] = Buffer.from(String(copy[field]), "hex");
    return copy;
  }
  return answer;
}

/** The input of a call: the arguments by name (or the one message object). */
export function inputOf(operation: Operation, args: readonly unknown[]): Record<string, unknown> {
  if (!operation.args) return { ...(args[0] as Record<string, unknown>) };
  const input: Record<string, unknown> = {};
  operation.args.forEach((name, i) => {
    if (args[i] !== undefined) input[name] = args[i];
  });
  return input;
}

/** What a generated client needs: where requests go, and the credentials owner operations carry. */
export interface Connection {
  readonly transport: Transport;
  readonly credentials?: Credentials;
}

/** The operations a generated client calls: all but event streams (a client follows those its own way). */
type Called<O> = {
  [K in keyof O]: O[K] extends { readonly output: { readonly events: readonly string[] } } ? never : K;
}[keyof O];

type Client<Api, O> = Pick<Api, Extract<Called<O>, keyof Api>>;

/**
 * A client class with one method per operation of the table, each taking the API method's
 * parameters: `new (clientOf<ElementApi>()(TABLE))(connection).status()` sends GET /v1/status.
 */
export function clientOf<Api>() {
  return <O extends Readonly<Record<string, Operation>>>(
    table: Table<O>,
  ): (new (
    connection: Connection,
  ) => Client<Api, O> & { readonly connection: Connection }) => {
    class Generated {
      constructor(readonly connection: Connection) {}
    }
    for (const [name, operation] of Object.entries(table.operations)) {
      if (operation.output?.events) continue;
      Object.defineProperty(Generated.prototype, name, {
        configurable: true,
        writable: true,
        async value(this: Generated, ...args: unknown[]) {
          const { transport, credentials } = this.connection;
          return answerValue(
            operation,
            await transport(requestFor(operation, inputOf(operation, args), credentials)),
          );
        },
      });
    }
    return Generated as unknown as new (
      connection: Connection,
    ) => Client<Api, O> & { readonly connection: Connection };
  };
}
