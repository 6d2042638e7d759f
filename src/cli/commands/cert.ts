import { selfSignedCertificate } from "../../derive/certificate.js";
import { UsageError } from "../../errors.js";
import { type Command, printJson } from "../context.js";
import { signingAlgorithm, withKeys } from "../with-keys.js";

const MAX_DAYS = 36_500;

export const command: Command = {
  usage: "reid [--store DIR] [--json] cert [--days N] [--alg ed25519|p256]",
  summary:
    "Prints a self-signed X.509 certificate (PEM) for a derived key: CN and serial number are the handle.",
  options: { days: { type: "string" }, alg: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const algorithm = signingAlgorithm(values.alg);
    const days = values.days === undefined ? 365 : Number(values.days);
    if (!/^\d+$/.test(String(values.days ?? "365")) || days < 1 || days > MAX_DAYS) {
      throw new UsageError(`bad --days '${String(values.days)}': expected whole days from 1 to ${MAX_DAYS}`);
    }
    const pem = await withKeys(context, (keys) =>
      selfSignedCertificate(keys, { algorithm, days, now: new Date() }),
    );
    if (context.json) return printJson(context, { algorithm, days, certificate: pem });
    context.stdout.write(pem.endsWith("\n") ? pem : `${pem}\n`);
  },
};
