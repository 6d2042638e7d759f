import { NAMED_BACKENDS } from "../storage/backends.js";
import type { OptionSpec } from "./context.js";

/** The options every command takes (docs/spec.md §3.1), before or after its name. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  store: { type: "string" },
  json: { type: "boolean" },
  source: { type: "string" },
  "kek-file": { type: "string" },
  // --tpm SPEC, and one option for each other backend.
  ...Object.fromEntries(NAMED_BACKENDS.map((entry) => [entry.option, { type: "string" } as const])),
  "pin-file": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

/** `--store`, `-h`…: the options as they are typed. */
export function optionNames(options: Readonly<Record<string, OptionSpec>>): string[] {
  return Object.entries(options).flatMap(([name, spec]) => [
    `--${name}`,
    ...(spec.short ? [`-${spec.short}`] : []),
  ]);
}
