import { type Command, print, printJson } from "../context.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] unbind HANDLE",
  summary:
    "Removes the binding with HANDLE: a user of this device, or a device this element is bound to (the device is told first, with a signed unbind, when it can be reached).",
  options: {},
  positionals: [1, 1],
  async run(context, _values, positionals) {
    const result = await withBinding(context, "write", (binding) => binding.unbind(positionals[0] as string));
    if (context.json) printJson(context, result);
    else {
      const told =
        result.removed.role === "device"
          ? result.notified
            ? " (the device was told)"
            : " (the device could not be reached)"
          : "";
      print(context, `unbound ${result.removed.role} ${result.removed.handle}${told}`);
    }
  },
};
