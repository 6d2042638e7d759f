import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { readKeyFile } from "../key-file.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] export --wrap-key FILE",
  summary:
    "Prints the identifier wrapped (AES-256 key wrap with padding, RFC 5649) under the 32-byte key in FILE, as hex.",
  options: { "wrap-key": { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const path = values["wrap-key"];
    if (typeof path !== "string") throw new UsageError("'reid export' needs --wrap-key FILE (a 32-byte key)");
    const key = readKeyFile(path, "wrap key file");
    try {
      const { wrapped, generation, handle } = await withElement(context, "read", (element) =>
        element.exportWrapped(key),
      );
      const hex = Buffer.from(wrapped).toString("hex");
      if (context.json)
        return printJson(context, { wrapped: hex, algorithm: "aes256-wrap-pad", generation, handle });
      print(context, hex);
    } finally {
      key.fill(0);
    }
  },
};
