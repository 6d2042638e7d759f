import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A record of audit.log as the attacker reads it. */
export type Line = Record<string, unknown> & { seq: number; prev: string; hash: string; mac?: string };

/** JSON with keys sorted, as the log hashes it (docs/spec.md §9.1), written apart from reid's. */
export function canonical(value: unknown): string {
  if (!value || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .sort()
    .filter((key) => object[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonical(object[key])}`);
  return `{${members.join(",")}}`;
}

export function readLog(store: string): Line[] {
  return readFileSync(join(store, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);
}

/**
 * The attacker's rebuild of audit.log: `edit` each record, then every prev and hash recomputed,
 * MACs left as they are (the attacker has no key).
 */
export function rebuild(store: string, edit: (record: Line) => Line): void {
  let prev = "0".repeat(64);
  const lines = readLog(store).map((record) => {
    const { hash: _, ...body } = { ...edit(record), prev };
    const hash = createHash("sha256").update(canonical(body)).digest("hex");
    prev = hash;
    return JSON.stringify({ ...body, hash });
  });
  writeFileSync(join(store, "audit.log"), `${lines.join("\n")}\n`);
}
