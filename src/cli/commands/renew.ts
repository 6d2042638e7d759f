import { type Command, print, printJson } from "../context.js";
import { withEnrollment } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] renew",
  summary:
    "Renews the certificate 'reid enroll' was issued: the same derived key re-enrolled with the enrollment's registry over EST (simplereenroll), authorised by the current certificate as TLS client certificate and checked against the pinned CA; the new certificate replaces the old in the store, and the registry revokes the old one (superseded).",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const renewal = await withEnrollment(context, (enrollment) => enrollment.renew());
    if (context.json) return printJson(context, renewal);
    const rows: [string, string][] = [
      ["renewed", renewal.registry],
      ["handle", `${renewal.handle} (generation ${renewal.generation}, ${renewal.algorithm})`],
      ["serial", `${renewal.serial} (was ${renewal.previous})`],
      ["valid", `${renewal.notBefore} to ${renewal.notAfter}`],
      ...(renewal.logSize === null ? [] : [["log", `verified, size ${renewal.logSize}`] as [string, string]]),
    ];
    print(context, rows.map(([key, value]) => `${key.padEnd(8)} ${value}`).join("\n"));
  },
};
