import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { deviceAddress } from "../device-address.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] bind HOST:PORT --expect-handle HANDLE",
  summary:
    "Binds this element (the user) to the device at HOST:PORT, after the device proved it holds the key behind HANDLE: the device stores this element's public keys, and accepts its signed commands from then on.",
  options: { "expect-handle": { type: "string" } },
  positionals: [1, 1],
  async run(context, values, positionals) {
    const address = deviceAddress(positionals[0] as string);
    const expect = values["expect-handle"];
    if (typeof expect !== "string") {
      throw new UsageError(
        "'reid bind' needs --expect-handle HANDLE (from 'reid discover' or the device's 'reid status')",
      );
    }
    const result = await withBinding(context, "write", (binding) => binding.bind(address, expect));
    if (context.json) printJson(context, result);
    else print(context, `bound to device ${result.device} at ${result.address} as ${result.user}`);
  },
};
