import { setTimeout as sleep } from "node:timers/promises";
import type { AuditedLog, Round } from "../../../registry/log/audit.js";
import { type CliContext, print, printJson } from "../../context.js";
import { logKeyOption } from "../../log-key.js";
import { type RegistryAction, rows } from "./action.js";
import { lineWriter } from "./lines.js";
import { stopSignal } from "./stop-signal.js";

/** --follow asks for a new checkpoint this often. */
const FOLLOW_MS = 2000;

/**
 * `reid registry audit URL`: verifies the registry's identity log (docs/spec.md §10.12) over TLS
 * pinned as the operator's `--url` pins it: each new checkpoint consistent with the last one
 * verified (kept in --state DIR between runs), every leaf fetched and the root recomputed, the
 * events replayed into a device table that refuses an impossible history. --follow goes on
 * every 2 s until SIGINT or SIGTERM, which print the summary and exit 0.
 */
export const action: RegistryAction = {
  options: ["ca", "ca-fingerprint", "log-key", "state", "follow"],
  operands: [1, 1],
  async run(context, args) {
    const key = await logKeyOption(args.text("log-key"));
    const state = args.text("state");
    const [{ remoteRegistry }, { logGet }, { fingerprintOf }, { LogClient }, { Auditor }] = await Promise.all(
      [
        import("./remote.js"),
        import("../../../enrollment/log-witness.js"),
        import("../../../enrollment/enroll.js"),
        import("../../../registry/log/client.js"),
        import("../../../registry/log/auditor.js"),
      ],
    );
    // After enroll.js, which loads the metadata polyfill X.509's decorators need.
    const x509 = await import("@peculiar/x509");
    const { target } = await remoteRegistry(args.operands[0] as string, args, false);
    const registry = target.origin.origin;
    // GETs over the TLS pinned as the element's are: the same client, the same limits.
    const client = new LogClient(await logGet(target), target.origin.host);
    const auditor = await Auditor.open(client, {
      registry,
      caFingerprint: fingerprintOf(new x509.X509Certificate(target.ca as string)),
      ...(key === undefined ? {} : { key }),
      ...(state === undefined ? {} : { state }),
    });
    const first = await auditor.round();
    if (!args.flag("follow")) return summary(context, registry, first.log, first.added);
    const stop = stopSignal();
    try {
      const line = lineWriter(context);
      const show = (done: Round) =>
        line(context.json ? JSON.stringify(view(registry, done.log, done.added)) : followLine(done));
      if (!(await show(first))) return;
      let outage = false;
      while (!stop.signal.aborted) {
        await sleep(FOLLOW_MS, undefined, { signal: stop.signal }).catch(() => undefined);
        if (stop.signal.aborted) break;
        let done: Round;
        try {
          done = await auditor.round();
          outage = false;
        } catch (error) {
          if ((error as { code?: unknown }).code !== "registry-unreachable") throw error;
          auditor.recover();
          if (!outage)
            context.stderr.write(`reid: ${(error as Error).message}; following again once it answers\n`);
          outage = true;
          continue;
        }
        if (done.added > 0 && !(await show(done))) return;
      }
      summary(context, registry, auditor.log, auditor.log.tree.size - auditor.startSize);
    } finally {
      stop.dispose();
    }
  },
};

/** What the audit has verified, as --json prints it; `added`: the leaves verified now. */
function view(registry: string, log: AuditedLog, added: number) {
  const { checkpoint, table } = log;
  return {
    registry,
    size: checkpoint?.size ?? 0,
    root: Buffer.from(checkpoint?.root ?? []).toString("base64"),
    time: checkpoint?.time ?? null,
    added,
    devices: table.counts(),
  };
}

function counts(log: AuditedLog): string {
  const { listed, active, superseded, revoked } = log.table.counts();
  // Listed devices (imported, not certified yet, §10.6) named only where there are any.
  const counted = `${active} active, ${superseded} superseded, ${revoked} revoked`;
  return listed > 0 ? `${listed} listed, ${counted}` : counted;
}

function followLine(done: Round): string {
  const { size, root } = view("", done.log, done.added);
  return `size ${size}  root ${root}  +${done.added} leaves  ${counts(done.log)}`;
}

function summary(context: CliContext, registry: string, log: AuditedLog, added: number): void {
  const shown = view(registry, log, added);
  if (context.json) {
    printJson(context, shown);
    return;
  }
  print(
    context,
    rows(
      [
        ["audited", registry],
        ["size", `${shown.size} (${shown.added} leaves verified now)`],
        ["root", shown.root],
        ["signed", shown.time ?? "-"],
        ["devices", `${log.table.size}: ${counts(log)}`],
      ],
      8,
    ),
  );
}
