import { signingAlgorithm } from "../../element/inputs.js";
import { type Command, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] csr [--subject DN] [--alg ed25519|p256]",
  summary:
    "Prints a PKCS#10 certificate request (PEM) for a derived key; the subject defaults to the handle.",
  options: { subject: { type: "string" }, alg: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const algorithm = signingAlgorithm(values.alg);
    const subject = typeof values.subject === "string" ? values.subject : undefined;
    const pem = await withElement(context, "read", (element) =>
      element.certificationRequest(algorithm, subject),
    );
    if (context.json) return printJson(context, { algorithm, request: pem });
    context.stdout.write(pem.endsWith("\n") ? pem : `${pem}\n`);
  },
};
