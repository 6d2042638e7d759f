import { certificationRequest, parseDistinguishedName } from "../../derive/certificate.js";
import { UsageError } from "../../errors.js";
import { type Command, printJson } from "../context.js";
import { signingAlgorithm, withKeys } from "../with-keys.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] csr [--subject DN] [--alg ed25519|p256]",
  summary:
    "Prints a PKCS#10 certificate request (PEM) for a derived key; the subject defaults to the handle.",
  options: { subject: { type: "string" }, alg: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const algorithm = signingAlgorithm(values.alg);
    const subject = typeof values.subject === "string" ? distinguishedName(values.subject) : undefined;
    const pem = await withKeys(context, (keys) => certificationRequest(keys, { algorithm, subject }));
    if (context.json) return printJson(context, { algorithm, request: pem });
    context.stdout.write(pem.endsWith("\n") ? pem : `${pem}\n`);
  },
};

function distinguishedName(text: string): ReturnType<typeof parseDistinguishedName> {
  try {
    return parseDistinguishedName(text);
  } catch (error) {
    throw new UsageError(
      `bad --subject '${text}': ${(error as Error).message}; expected a distinguished name such as 'CN=sensor-7, O=Acme'`,
    );
  }
}
