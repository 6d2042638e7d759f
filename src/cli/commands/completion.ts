import { UsageError } from "../../errors.js";
import type { CompletionModel } from "../completion/model.js";
import type { Command } from "../context.js";

type Script = (model: CompletionModel) => string;

const SCRIPTS: Readonly<Record<string, () => Promise<Script>>> = {
  bash: async () => (await import("../completion/bash.js")).bashScript,
  zsh: async () => (await import("../completion/zsh.js")).zshScript,
  fish: async () => (await import("../completion/fish.js")).fishScript,
};

export const command: Command = {
  usage: "reid completion bash|zsh|fish",
  summary:
    "Prints a completion script for the shell, made from reid's own command and option tables: source <(reid completion bash), source <(reid completion zsh) after compinit, reid completion fish | source.",
  options: {},
  positionals: [1, 1],
  async run(context, _values, [shell]) {
    const load = shell === undefined || !Object.hasOwn(SCRIPTS, shell) ? undefined : SCRIPTS[shell];
    if (!load) {
      const known = Object.keys(SCRIPTS).join(", ");
      throw new UsageError(`bad shell '${String(shell).slice(0, 64)}': expected ${known}`);
    }
    const { completionModel } = await import("../completion/model.js");
    const script = await load();
    context.stdout.write(script(await completionModel()));
  },
};
