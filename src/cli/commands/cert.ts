import { certificateDays, signingAlgorithm } from "../../element/inputs.js";
import { StateError, UsageError } from "../../errors.js";
import { type CliContext, type Command, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] cert [--days N] [--alg ed25519|p256] | cert --issued",
  summary:
    "Prints a self-signed X.509 certificate (PEM) for a derived key: CN and serial number are the handle; --issued prints the one the registry issued at 'reid enroll'.",
  options: { days: { type: "string" }, alg: { type: "string" }, issued: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    if (values.issued === true) {
      if (values.days !== undefined || values.alg !== undefined) {
        throw new UsageError(
          "--issued prints the registry's certificate: --days and --alg do not go with it",
        );
      }
      return issued(context);
    }
    const algorithm = signingAlgorithm(values.alg);
    const days = certificateDays(values.days);
    const pem = await withElement(context, "read", (element) => element.certificate(algorithm, days));
    if (context.json) return printJson(context, { algorithm, days, certificate: pem });
    writePem(context, pem);
  },
};

function writePem(context: CliContext, pem: string): void {
  context.stdout.write(pem.endsWith("\n") ? pem : `${pem}\n`);
}

/** The certificate the registry issued, only while it names the identity the element holds. */
async function issued(context: CliContext): Promise<void> {
  const status = await withElement(context, "read", (element) => element.status());
  const { readEnrollment } = await import("../../enrollment/enrollment-record.js");
  const record = readEnrollment(context.storeDirectory);
  if (record === null)
    throw new StateError("not-enrolled", "this element is not enrolled: run reid enroll URL");
  if (record.handle !== status.handle) {
    throw new StateError(
      "enrollment-stale",
      `the issued certificate names ${record.handle}, an identity this element no longer holds: run reid enroll again`,
    );
  }
  const { registry, serial, notBefore, notAfter, algorithm, certificate } = record;
  if (context.json)
    return printJson(context, { registry, serial, notBefore, notAfter, algorithm, certificate });
  writePem(context, certificate);
}
