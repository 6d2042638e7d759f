import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { deviceAddress } from "../device-address.js";
import { readTextSecret } from "../key-file.js";
import { canPrompt, promptHidden } from "../prompt.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] bind HOST:PORT --expect-handle HANDLE [--code-file FILE]",
  summary:
    "Binds this element (the user) to the device at HOST:PORT, after the device proved it holds the key behind HANDLE, with the setup code its owner's 'reid pair' shows (asked for at the terminal, or read from --code-file, a 0600 file): the device stores this element's public keys, and accepts its signed commands from then on.",
  options: {
    "expect-handle": { type: "string" },
    "code-file": { type: "string" },
    code: { type: "string" },
  },
  positionals: [1, 1],
  async run(context, values, positionals) {
    const address = deviceAddress(positionals[0] as string);
    const expect = values["expect-handle"];
    if (typeof expect !== "string") {
      throw new UsageError(
        "'reid bind' needs --expect-handle HANDLE (from the device owner's 'reid pair', or 'reid discover')",
      );
    }
    if (values.code !== undefined) {
      // Other accounts read argv (ps, /proc): a setup code never goes there.
      throw new UsageError(
        "a setup code is not given on the command line: use --code-file FILE (mode 0600) or type it at the prompt",
      );
    }
    const code = await setupCodeFrom(values["code-file"], context.stderr);
    const result = await withBinding(context, "write", (binding) => binding.bind(address, expect, code));
    if (context.json) printJson(context, result);
    else print(context, `bound to device ${result.device} at ${result.address} as ${result.user}`);
  },
};

/** The code from --code-file, else asked for at the terminal (hidden, like a PIN). */
async function setupCodeFrom(file: string | boolean | undefined, output: NodeJS.WritableStream) {
  if (typeof file === "string") return readTextSecret(file, "setup code file");
  if (!canPrompt()) {
    throw new UsageError(
      "'reid bind' needs the device's setup code: --code-file FILE, or run it at a terminal to type it",
    );
  }
  return promptHidden("setup code (from 'reid pair' on the device): ", output);
}
