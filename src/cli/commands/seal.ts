import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] --kek-file FILE seal",
  summary:
    "Seals an identifier stored in clear under the key-encryption key (AES-256-GCM); the identifier stays the same.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    if (!context.kekFile) {
      throw new UsageError("'reid seal' needs a key-encryption key: --kek-file FILE or REID_KEK_FILE");
    }
    const status = await withElement(context, "write", (element) => element.seal());
    if (context.json)
      return printJson(context, {
        state: status.state,
        generation: status.generation,
        sealed: status.sealed,
      });
    print(
      context,
      status.state === "set"
        ? `sealed: generation ${status.generation}, handle ${status.handle}`
        : "sealing: the element is blank; its identifiers will be sealed from now on",
    );
  },
};
