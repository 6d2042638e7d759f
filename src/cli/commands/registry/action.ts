import type { CliContext } from "../../context.js";

/** What one `reid registry` action gets: its own options' values (strings or lists) and operands. */
export interface RegistryArguments {
  readonly text: (name: string) => string | undefined;
  readonly flag: (name: string) => boolean;
  readonly list: (name: string) => readonly string[] | undefined;
  /** The positionals after the action's own words (for example a handle). */
  readonly operands: readonly string[];
}

export interface RegistryAction {
  /** The options it takes; any other is refused, not ignored. */
  readonly options: readonly string[];
  /** How many operands it takes after its words. */
  readonly operands: readonly [min: number, max: number];
  run(context: CliContext, args: RegistryArguments): Promise<void>;
}

/** Rows of `key value`, keys padded to `width` columns: the registry's text output. */
export function rows(entries: readonly (readonly [string, string])[], width: number): string {
  return entries.map(([key, value]) => `${key.padEnd(width)} ${value}`).join("\n");
}
