import { writeFileSync } from "node:fs";
import { signingAlgorithm } from "../../element/inputs.js";
import { describeOsError, UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { readInput } from "../read-input.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] sign FILE [--alg ed25519|p256] [--out SIGFILE]",
  summary:
    "Signs FILE with a derived key: Ed25519 (64 bytes) or ECDSA P-256 over SHA-256 (DER). Prints hex, or writes --out.",
  options: { alg: { type: "string" }, out: { type: "string" } },
  positionals: [1, 1],
  async run(context, values, [file]) {
    const algorithm = signingAlgorithm(values.alg);
    const message = readInput(file as string, "file");
    const { signature, handle } = await withElement(context, "read", (element) =>
      element.sign(algorithm, message),
    );
    if (typeof values.out === "string") {
      try {
        writeFileSync(values.out, signature);
      } catch (error) {
        throw new UsageError(`cannot write ${values.out}: ${describeOsError(error)}`);
      }
    }
    const hex = Buffer.from(signature).toString("hex");
    if (context.json) return printJson(context, { algorithm, handle, signature: hex });
    if (typeof values.out !== "string") print(context, hex);
  },
};
