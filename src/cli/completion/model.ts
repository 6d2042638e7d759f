import { COMMAND_ORDER, COMMANDS } from "../commands.js";
import type { OptionSpec } from "../context.js";
import { GLOBAL_OPTIONS, optionNames } from "../global-options.js";

/** What a completion script knows: the command table and each command's options, as typed. */
export interface CompletionModel {
  readonly commands: readonly {
    readonly name: string;
    readonly summary: string;
    readonly options: readonly string[];
  }[];
  readonly global: readonly string[];
  /** Options (global or a command's) followed by a value, which is no command and no option. */
  readonly valued: readonly string[];
  readonly globalValued: readonly string[];
}

/** Names go into shell scripts unquoted: only what a command or option name may be. */
const WORD = /^-{0,2}[a-z0-9][a-z0-9-]*$/;

/** The model from the same tables `reid` parses with: a command or option added is completed too. */
export async function completionModel(): Promise<CompletionModel> {
  const valued = new Set(valuedOf(GLOBAL_OPTIONS));
  const commands = [];
  for (const name of COMMAND_ORDER) {
    const load = COMMANDS[name];
    if (!load) continue;
    const { command } = await load();
    for (const option of valuedOf(command.options)) valued.add(option);
    checked([name]);
    commands.push({ name, summary: command.summary, options: checked(optionNames(command.options)) });
  }
  return {
    commands,
    global: checked(optionNames(GLOBAL_OPTIONS)),
    valued: checked([...valued]),
    globalValued: checked(valuedOf(GLOBAL_OPTIONS)),
  };
}

function valuedOf(options: Readonly<Record<string, OptionSpec>>): string[] {
  return Object.entries(options).flatMap(([name, spec]) => (spec.type === "string" ? [`--${name}`] : []));
}

function checked(words: readonly string[]): string[] {
  for (const word of words) {
    if (!WORD.test(word)) throw new Error(`'${word}' cannot go into a completion script`);
  }
  return [...words];
}
