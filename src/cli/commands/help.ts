import { UsageError } from "../../errors.js";
import { COMMAND_ORDER, COMMANDS } from "../commands.js";
import type { Command } from "../context.js";

export const command: Command = {
  usage: "reid help [COMMAND]",
  summary: "Lists the commands, or shows how to use one.",
  options: {},
  positionals: [0, 1],
  async run(context, _values, [name]) {
    if (name !== undefined && !COMMANDS[name]) {
      throw new UsageError(`unknown command '${name}' (see 'reid help')`, "unknown-command");
    }
    const names = name ? [name] : COMMAND_ORDER;
    const lines = [
      "reid: a secure element for device identity, owned by you.",
      "",
      "usage: reid [--store DIR] [--json] [--tpm SPEC] [--source os|tpm|tpm+os|device:PATH] COMMAND [OPTIONS]",
      "",
    ];
    for (const each of names) {
      const load = COMMANDS[each];
      if (!load) continue;
      const { command } = await load();
      lines.push(`  ${command.usage}`, `      ${command.summary}`);
    }
    lines.push(
      "",
      "Store: --store, else $REID_STORE, else $XDG_DATA_HOME/reid, else ~/.local/share/reid.",
      "TPM: --tpm swtpm:host=H,port=P | swtpm:path=SOCKET | device:/dev/tpmrm0 [,nv-index=0x...][,owner-auth-file=FILE]",
      "     (or $REID_TPM): the identifier lives in the TPM's NV; the store remembers it.",
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 state conflict, 4 auth, 5 entropy, 6 storage.",
    );
    context.stdout.write(`${lines.join("\n")}\n`);
  },
};
