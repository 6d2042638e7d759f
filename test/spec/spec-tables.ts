// docs/spec.md's tables as data, so a test can hold them against the code's own tables: the daemon
// API (§6.4), the binding messages (§7.3) and the error codes (§3.4).
import type { Method, Operation, Source } from "../../src/http/operation.js";

/** The text of subsection `number` ("6.4"): from its heading to the next heading. */
export function subsection(markdown: string, number: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`### ${number} `));
  if (start < 0) throw new Error(`docs/spec.md has no §${number}`);
  const end = lines.findIndex((line, i) => i > start && /^#{2,3} /.test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The rows of the first table in `text`, each a list of cells (header and rule left out). */
export function tableRows(text: string): string[][] {
  const lines = text.split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  if (first < 0) return [];
  const table: string[] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith("|")) break;
    table.push(line);
  }
  return table.slice(2).map((line) =>
    line
      .slice(1, line.endsWith("|") ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replaceAll("\\|", "|")),
  );
}

/** The backticked words of a cell: "`a`, `b`" gives a and b. */
export function codesOf(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

/** A field as a table lists it: "`name`? (query): what it is". */
export interface DocumentedField {
  readonly name: string;
  readonly optional: boolean;
  readonly from: Source;
}

/**
 * The fields of a cell: items separated by "; ", each starting with its name in backticks, "?"
 * after it when it may be left out, then "(path)", "(query)" or "(raw body)" when it does not
 * travel in the JSON body. An empty cell or "(no body)" has none.
 */
export function fieldsOf(cell: string): DocumentedField[] {
  if (cell === "" || cell === "(no body)") return [];
  return cell.split("; ").map((item) => {
    const match = /^`([A-Za-z][A-Za-z0-9]*)`(\?)?(?: \((path|query|raw body)\))?/.exec(item);
    if (!match) throw new Error(`not a field: '${item}'`);
    const place = match[3];
    return {
      name: match[1] as string,
      optional: match[2] === "?",
      from: place === "raw body" ? "raw" : ((place ?? "body") as Source),
    };
  });
}

/** An operation as a table documents it. */
export interface DocumentedOperation {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly owner: boolean;
  readonly input: readonly DocumentedField[];
  /** The answer's fields, where the table lists them (the binding messages). */
  readonly answer?: readonly DocumentedField[];
}

/** "`POST /v1/requests`" as method and path. */
export function route(cell: string): { method: string; path: string } {
  const match = /^`([A-Z]+) (\S+)`$/.exec(cell);
  if (!match) throw new Error(`not a method and path: '${cell}'`);
  return { method: match[1] as string, path: match[2] as string };
}

export function ownerFlag(cell: string): boolean {
  if (cell === "yes") return true;
  if (cell === "no") return false;
  throw new Error(`the owner column says 'yes' or 'no', not '${cell}'`);
}

/** §6.4's rows: operation | method, path | owner | input | answer | CLI. */
export function daemonOperations(markdown: string): DocumentedOperation[] {
  return tableRows(subsection(markdown, "6.4")).map(([name = "", where = "", owner = "", input = ""]) => ({
    name: codesOf(name)[0] ?? name,
    ...route(where),
    owner: ownerFlag(owner),
    input: fieldsOf(input),
  }));
}

/** §10.10's rows: operation | method, path | input | answer | CLI (every one an operator route). */
export function operatorOperations(markdown: string): DocumentedOperation[] {
  return tableRows(subsection(markdown, "10.10")).map(([name = "", where = "", input = ""]) => ({
    name: codesOf(name)[0] ?? name,
    ...route(where),
    owner: false,
    input: fieldsOf(input),
  }));
}

/** §7.3's first table: message | method, path | owner | request fields | answer fields. */
export function bindingMessages(markdown: string): DocumentedOperation[] {
  return tableRows(subsection(markdown, "7.3")).map(
    ([name = "", where = "", owner = "", input = "", answer = ""]) => ({
      name: codesOf(name)[0] ?? name,
      ...route(where),
      owner: ownerFlag(owner),
      input: fieldsOf(input),
      answer: fieldsOf(answer),
    }),
  );
}

/** §3.4's rows: every code with the exit codes documented for it (a code may have more than one row). */
export function errorCodes(markdown: string): Map<string, Set<number>> {
  const codes = new Map<string, Set<number>>();
  for (const [cell = "", exit = ""] of tableRows(subsection(markdown, "3.4"))) {
    for (const code of codesOf(cell)) codes.set(code, (codes.get(code) ?? new Set()).add(Number(exit)));
  }
  return codes;
}

/** The code's side of the same rows, from a table of operations (DAEMON_API, DEVICE_MESSAGES). */
export function builtOperations(
  operations: Readonly<Record<string, Operation>>,
  withAnswer = false,
): DocumentedOperation[] {
  return Object.entries(operations).map(([name, operation]) => ({
    name,
    method: operation.method satisfies Method,
    path: operation.path,
    owner: operation.owner,
    input: fieldsFrom(operation.input),
    ...(withAnswer ? { answer: fieldsFrom(operation.answer) } : {}),
  }));
}

function fieldsFrom(fields: Operation["input"]): DocumentedField[] {
  return Object.entries(fields ?? {}).map(([name, schema]) => ({
    name,
    optional: schema.optional,
    from: "from" in schema ? (schema as { from: Source }).from : "body",
  }));
}

/** What differs between the documented rows and the built ones, one line each; empty when they agree. */
export function differences(
  documented: readonly DocumentedOperation[],
  built: readonly DocumentedOperation[],
): string[] {
  const problems: string[] = [];
  const named = new Map(documented.map((row) => [row.name, row]));
  for (const row of documented) {
    if (documented.filter((other) => other.name === row.name).length > 1)
      problems.push(`${row.name} is documented twice`);
  }
  for (const op of built) {
    const row = named.get(op.name);
    if (!row) {
      problems.push(`${op.name} (${op.method} ${op.path}) is not documented`);
      continue;
    }
    if (row.method !== op.method || row.path !== op.path)
      problems.push(`${op.name} is ${op.method} ${op.path}, documented as ${row.method} ${row.path}`);
    if (row.owner !== op.owner)
      problems.push(`${op.name} ${op.owner ? "is" : "is not"} an owner operation, documented otherwise`);
    problems.push(...fieldDifferences(`${op.name}'s input`, row.input, op.input));
    if (op.answer && row.answer)
      problems.push(...fieldDifferences(`${op.name}'s answer`, row.answer, op.answer));
  }
  for (const row of documented) {
    if (!built.some((op) => op.name === row.name))
      problems.push(`${row.name} (${row.method} ${row.path}) is documented but does not exist`);
  }
  return problems;
}

function fieldDifferences(
  what: string,
  documented: readonly DocumentedField[],
  built: readonly DocumentedField[],
): string[] {
  const show = (fields: readonly DocumentedField[]) =>
    fields
      .map(
        (field) =>
          `${field.name}${field.optional ? "?" : ""}${field.from === "body" ? "" : ` (${field.from})`}`,
      )
      .join("; ");
  return show(documented) === show(built)
    ? []
    : [`${what} is ${show(built) || "nothing"}, documented as ${show(documented) || "nothing"}`];
}
