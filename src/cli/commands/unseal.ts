import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] [--kek-file FILE] unseal",
  summary:
    "Commits a sealed identifier in clear again (same identifier, generation and handle) and destroys the key that sealed it, if it lived in the TPM or token.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const status = await withElement(context, "write", (element) => element.unseal());
    if (context.json)
      return printJson(context, {
        state: status.state,
        generation: status.generation,
        sealed: status.sealed,
      });
    print(
      context,
      status.state === "set"
        ? `unsealed: generation ${status.generation}, handle ${status.handle}`
        : "unsealed: the element is blank; its identifiers will be stored in clear from now on",
    );
  },
};
