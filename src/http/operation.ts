import type { Fields, Schema } from "./schema.js";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Where a field of an operation's input travels: a path parameter, the query, the JSON body, or the raw body. */
export type Source = "path" | "query" | "body" | "raw";

/** A field that travels outside the JSON body. */
export interface Placed<T> extends Schema<T> {
  readonly from: Exclude<Source, "body">;
}

export function inPath<T>(schema: Schema<T>): Placed<T> {
  return { ...schema, from: "path" };
}

export function inQuery<T>(schema: Schema<T>): Placed<T> {
  return { ...schema, from: "query" };
}

/** The whole request body as bytes (application/octet-stream): a message to sign, say. */
export const rawBody: Placed<Uint8Array> = {
  from: "raw",
  spec: "the request body, application/octet-stream",
  optional: false,
  read: (value) => value as Uint8Array,
  write: (value) => value,
};

export function sourceOf(field: Schema<unknown>): Source {
  return "from" in field ? (field as Placed<unknown>).from : "body";
}

/** How an answer differs from the API's value as plain JSON. */
export interface Output {
  /** The API's value is the answer's only field, named so ({"certificate": "-----BEGIN..."}). */
  readonly field?: string;
  /** These fields of the API's value are bytes, sent as hex. */
  readonly hex?: readonly string[];
  /** Not one answer but an event stream (text/event-stream) with events of these names. */
  readonly events?: readonly string[];
}

/**
 * One operation of an HTTP API as data, the way src/tpm describes a TPM command: where it lives,
 * what its input is and where each field travels, how its answer is written, and whether it is an
 * owner operation (gated by the owner's PIN). The engine (serve.ts, call.ts) is the only code that
 * turns these into routes and requests.
 */
export interface Operation {
  /** One line for the spec. */
  readonly summary: string;
  readonly method: Method;
  /** With `:name` for path parameters. */
  readonly path: string;
  /** An owner operation: refused without the PIN once one is set; the client sends the PIN only to these. */
  readonly owner: boolean;
  readonly input?: Fields;
  /**
   * The input fields in the order of the API method's parameters. Absent: the method takes the
   * input itself, as one object (a protocol message).
   */
  readonly args?: readonly string[];
  /** Input fields the client always sends with these values (the API method has no parameter for them). */
  readonly fixed?: Readonly<Record<string, string>>;
  /**
   * Two operations may share a method and path: the one naming a `when` field serves the requests
   * whose body carries that field, the other the rest.
   */
  readonly when?: string;
  readonly output?: Output;
  /** The largest body this operation reads, when not the table's. */
  readonly limit?: number;
  /** Names the request in a refusal of its input: "bad command: 'counter' must be a whole number". */
  readonly what?: string;
  /** The answer's fields, where the caller checks them (a protocol's messages). */
  readonly answer?: Fields;
}

export interface Table<O extends Readonly<Record<string, Operation>> = Readonly<Record<string, Operation>>> {
  /** The largest request body an operation of this table reads, unless it names its own. */
  readonly limit: number;
  /**
   * Fields read before anything else of a body, when it carries them (a protocol's version: a
   * peer of another version is told that, not which field the versions differ in).
   */
  readonly first?: Readonly<Record<string, Schema<unknown>>>;
  readonly operations: O;
}

/**
 * A table of operations named after the methods of `Api` that carry them out (curried so the
 * operations' own types are kept).
 */
export function defineOperations<Api>() {
  return <const O extends { readonly [K in keyof O]: K extends keyof Api ? Operation : never }>(
    table: Table<O>,
  ): Table<O> => table;
}

/** Whether an operation reads a request body (JSON or raw), and so has a body limit. */
export function readsBody(operation: Operation): boolean {
  return Object.values(operation.input ?? {}).some((field) => {
    const from = sourceOf(field);
    return from === "body" || from === "raw";
  });
}

/** One operation as the spec lists it. */
export interface OperationRow {
  readonly name: string;
  readonly method: Method;
  readonly path: string;
  readonly owner: boolean;
  readonly summary: string;
  readonly input: readonly {
    readonly name: string;
    readonly from: Source;
    readonly spec: string;
    readonly optional: boolean;
  }[];
  readonly fixed: Readonly<Record<string, string>>;
  readonly output: string;
  /** The largest request body, in bytes; null when the operation reads none. */
  readonly limit: number | null;
}

/** The tables as plain rows, in order: what docs/spec.md lists, so a test can hold the two together. */
export function describeOperations(...tables: readonly Table[]): OperationRow[] {
  return tables.flatMap((table) =>
    Object.entries(table.operations).map(([name, operation]) => ({
      name,
      method: operation.method,
      path: operation.path,
      owner: operation.owner,
      summary: operation.summary,
      input: Object.entries(operation.input ?? {}).map(([field, schema]) => ({
        name: field,
        from: sourceOf(schema),
        spec: schema.spec,
        optional: schema.optional,
      })),
      fixed: operation.fixed ?? {},
      output: outputSpec(operation.output),
      limit: readsBody(operation) ? (operation.limit ?? table.limit) : null,
    })),
  );
}

function outputSpec(output: Output | undefined): string {
  if (output?.events) return `text/event-stream: ${output.events.join(", ")}`;
  if (output?.field) return `JSON {"${output.field}": ...}`;
  if (output?.hex) return `JSON, bytes in hex: ${output.hex.join(", ")}`;
  return "JSON";
}
