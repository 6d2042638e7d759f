import { ExitCode, ReidError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] log [--verify]",
  summary:
    "Prints the hash-chained audit log of owner operations; --verify exits 0 only when no record was edited, removed or reordered.",
  options: { verify: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    const { records, verdict } = await withElement(context, "read", (element) => element.auditLog());
    if (values.verify) {
      if (!verdict.intact) {
        throw new ReidError(
          "audit-tampered",
          ExitCode.storage,
          `the audit log is not intact: ${verdict.problem}`,
        );
      }
      if (context.json) return printJson(context, verdict);
      return print(context, `audit log intact: ${verdict.records} records, head ${verdict.head}`);
    }
    if (context.json) return printJson(context, { records, verdict });
    for (const r of records) {
      const detail = r.outcome === "ok" ? "" : ` (${r.outcome})`;
      print(
        context,
        `${String(r.seq).padStart(5)}  ${r.time}  ${r.request.padEnd(15)} ${r.principal.padEnd(10)} gen ${r.generation}  ${r.handle ?? "-"}${detail}`,
      );
    }
    if (!verdict.intact)
      context.stderr.write(`reid: warning: the audit log is not intact: ${verdict.problem}\n`);
  },
};
