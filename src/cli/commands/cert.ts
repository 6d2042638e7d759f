import { certificateDays, signingAlgorithm } from "../../element/inputs.js";
import { type Command, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] cert [--days N] [--alg ed25519|p256]",
  summary:
    "Prints a self-signed X.509 certificate (PEM) for a derived key: CN and serial number are the handle.",
  options: { days: { type: "string" }, alg: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const algorithm = signingAlgorithm(values.alg);
    const days = certificateDays(values.days);
    const pem = await withElement(context, "read", (element) => element.certificate(algorithm, days));
    if (context.json) return printJson(context, { algorithm, days, certificate: pem });
    context.stdout.write(pem.endsWith("\n") ? pem : `${pem}\n`);
  },
};
