import { type Command, print, printJson } from "../context.js";
import { deviceAddress } from "../device-address.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] command HOST:PORT NAME [ARGS...]",
  summary:
    "Sends the bound device at HOST:PORT a command signed by this element's key (with a counter and the time); the device carries it out only for a bound user and answers a signed receipt.",
  options: {},
  positionals: [2, 18],
  async run(context, _values, positionals) {
    const [target, name, ...args] = positionals as [string, string, ...string[]];
    const address = deviceAddress(target);
    const result = await withBinding(context, "write", (binding) => binding.command(address, name, args));
    if (context.json) printJson(context, result);
    else print(context, `device ${result.device} accepted '${result.name}' (command ${result.counter})`);
  },
};
