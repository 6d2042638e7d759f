import { GENERATORS, NAMED_BACKENDS } from "../../storage/backends.js";
import { COMMAND_ORDER, COMMANDS, unknownCommand } from "../commands.js";
import type { Command } from "../context.js";

export const command: Command = {
  usage: "reid help [COMMAND]",
  summary: "Lists the commands, or shows how to use one.",
  options: {},
  positionals: [0, 1],
  async run(context, _values, [name]) {
    if (name !== undefined && !COMMANDS[name]) throw unknownCommand(name);
    const names = name ? [name] : COMMAND_ORDER;
    const backends = NAMED_BACKENDS.map((entry) => `[--${entry.option} SPEC] `).join("");
    const sources = ["os", ...GENERATORS.flatMap((kind) => [kind, `${kind}+os`]), "device:PATH"].join("|");
    const lines = [
      "reid: a secure element for device identity, owned by you.",
      "",
      `usage: reid [--store DIR] [--json] ${backends}[--source ${sources}] COMMAND [OPTIONS]`,
      "       reid COMMAND --help (-h)   one command's usage",
      '       reid --version [--json]    the version: reid VERSION, or {"version"}',
      "",
    ];
    for (const each of names) {
      const load = COMMANDS[each];
      if (!load) continue;
      const { command } = await load();
      lines.push(`  ${command.usage}`, `      ${command.summary}`);
    }
    lines.push("", "Store: --store, else $REID_STORE, else $XDG_DATA_HOME/reid, else ~/.local/share/reid.");
    for (const entry of NAMED_BACKENDS) {
      const { syntax } = await entry.load();
      lines.push(
        `${entry.label}: --${entry.option} ${syntax ?? "SPEC"}`,
        `     (or $${entry.variable}): the ${entry.label} backend holds the identifier; the store remembers it.`,
      );
    }
    lines.push(
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 state conflict, 4 auth, 5 entropy, 6 storage, 7 unreachable (a device, the daemon or the registry).",
    );
    context.stdout.write(`${lines.join("\n")}\n`);
  },
};
