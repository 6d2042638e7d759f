import type { AuditRecord } from "../../audit/audit-log.js";
import { REFUSED } from "../../audit/refusal-tally.js";
import { AuthError, ExitCode, ReidError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] log [--verify]",
  summary:
    "Prints the hash-chained audit log of owner operations (every kept file, oldest first); --verify exits 0 only when no record was edited, removed or reordered, and every MAC checks under the audit key.",
  options: { verify: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    const { records, verdict } = await withElement(context, "read", (element) => element.auditLog());
    if (values.verify) {
      if (!verdict.intact) {
        const message = `the audit log is not intact: ${verdict.problem}`;
        // A consistent chain whose MACs fail was rebuilt without the key (§9.7).
        if (verdict.forged) throw new ReidError("audit-forged", ExitCode.storage, message);
        throw new ReidError("audit-tampered", ExitCode.storage, message);
      }
      if (verdict.key === "locked") {
        throw new AuthError(
          "pin-required",
          `the audit log's chain is intact, but the audit key is under the owner's PIN: give it (--pin-file FILE, REID_PIN or at the prompt) to check the MACs`,
        );
      }
      if (verdict.key === "missing") {
        throw new ReidError(
          "audit-key-missing",
          ExitCode.storage,
          `the audit log's chain is intact, but its records carry MACs and there is no key to check them with (${verdict.why})`,
        );
      }
      if (context.json) return printJson(context, verdict);
      // Once the oldest file was rotated out, what is proven starts at the first kept record (§9.4).
      const from = verdict.from ? `, from record ${verdict.from} (older ones rotated out)` : "";
      const tail = verdict.unkeyedTail
        ? `; the last ${verdict.unkeyedTail} unkeyed (appended without the PIN, not checked)`
        : "";
      const keyed =
        verdict.key === "checked" ? `, keyed from record ${verdict.keyedFrom} (MACs checked${tail})` : "";
      return print(
        context,
        `audit log intact: ${verdict.records} records${from}${keyed}, head ${verdict.head}`,
      );
    }
    if (context.json) return printJson(context, { records, verdict });
    for (const r of records) {
      const detail = r.outcome === "ok" ? "" : ` (${r.outcome}${summary(r)})`;
      print(
        context,
        `${String(r.seq).padStart(5)}  ${r.time}  ${r.request.padEnd(15)} ${r.principal.padEnd(10)} gen ${r.generation}  ${r.handle ?? "-"}${detail}`,
      );
    }
    if (!verdict.intact)
      context.stderr.write(`reid: warning: the audit log is not intact: ${verdict.problem}\n`);
  },
};

/** A summary of refusals (docs/spec.md §9.5) says how many, from whom, over what span. */
function summary(record: AuditRecord): string {
  if (record.request !== REFUSED || !record.detail) return "";
  const { count, peer, from, to } = record.detail;
  return ` x${count} from ${peer}, ${from} to ${to}`;
}
