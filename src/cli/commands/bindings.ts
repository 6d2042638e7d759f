import { type Command, print, printJson } from "../context.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] bindings",
  summary:
    "Lists this element's bindings: users bound to it (as a device) and devices it is bound to (as a user), by handle.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const result = await withBinding(context, "read", (binding) => binding.bindings());
    if (context.json) printJson(context, result);
    else if (result.bindings.length === 0) print(context, "no bindings");
    else
      for (const b of result.bindings)
        print(context, `${b.role} ${b.handle} bound ${b.bound}${b.address ? ` at ${b.address}` : ""}`);
  },
};
