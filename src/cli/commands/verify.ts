import { signingAlgorithm } from "../../element/inputs.js";
import { ExitCode, ReidError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { readInput } from "../read-input.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] verify FILE SIGFILE [--alg ed25519|p256]",
  summary: "Checks a signature over FILE against the element's derived key (exit 4 if it does not verify).",
  options: { alg: { type: "string" } },
  positionals: [2, 2],
  async run(context, values, [file, signatureFile]) {
    const algorithm = signingAlgorithm(values.alg);
    const message = readInput(file as string, "file");
    const signature = signatureBytes(readInput(signatureFile as string, "signature file"));
    const { valid, handle } = await withElement(context, "read", (element) =>
      element.verify(algorithm, message, signature),
    );
    if (!valid) {
      throw new ReidError(
        "bad-signature",
        ExitCode.auth,
        `the signature in ${signatureFile} does not verify for ${file} under handle ${handle} (${algorithm})`,
      );
    }
    if (context.json) return printJson(context, { valid: true, algorithm, handle });
    print(context, `signature verifies: ${file}, handle ${handle}, ${algorithm}`);
  },
};

/** A signature file holds the raw signature, or its hex as `reid sign` prints it. */
function signatureBytes(content: Buffer): Uint8Array {
  const text = content.toString("latin1").trim();
  return /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, "hex") : content;
}
