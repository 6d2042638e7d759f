import { signingAlgorithm } from "../../element/inputs.js";
import { checkSignature, signatureBytes } from "../../element/verify-signature.js";
import { ExitCode, ReidError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { readInput } from "../read-input.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] verify FILE SIGFILE [--alg ed25519|p256]",
  summary:
    "Checks a signature over FILE against the element's derived key (exit 4 if it does not verify); the algorithm is told from the signature (DER: p256, 64 bytes: ed25519) unless --alg names it.",
  options: { alg: { type: "string" } },
  positionals: [2, 2],
  async run(context, values, [file, signatureFile]) {
    const given = values.alg === undefined ? null : signingAlgorithm(values.alg);
    const message = readInput(file as string, "file");
    const signature = signatureBytes(readInput(signatureFile as string, "signature file"));
    const { valid, handle, algorithm, candidates } = await withElement(context, "read", (element) =>
      checkSignature(element, message, signature, given),
    );
    if (!valid) {
      const why =
        candidates.length > 0
          ? `does not verify for ${file} under handle ${handle} (${candidates.join(" or ")})`
          : "is neither an Ed25519 signature (64 bytes) nor an ECDSA P-256 one (DER)";
      throw new ReidError("bad-signature", ExitCode.auth, `the signature in ${signatureFile} ${why}`);
    }
    if (context.json) return printJson(context, { valid: true, algorithm, handle });
    print(context, `signature verifies: ${file}, handle ${handle}, ${algorithm}`);
  },
};
