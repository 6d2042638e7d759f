import type { Notification, RequestType } from "../element/request.js";
import { type CliContext, type Command, print, printJson } from "./context.js";
import { withElement } from "./with-element.js";

const SUMMARIES: Record<RequestType, string> = {
  init: "Writes a new identifier into a blank element (exit 3 if it already holds one).",
  reset: "Replaces the identifier with a new one; the old one is erased only once the new one is durable.",
  erase: "Overwrites the identifier; the element becomes blank and keeps its generation (exit 3 if blank).",
};

/** init, reset and erase share one shape: a request to the element and its notification. */
export function requestCommand(type: RequestType): Command {
  const takesFormat = type !== "erase";
  return {
    usage: `reid [--store DIR] [--json] [--source SPEC] ${type}${takesFormat ? " [--format raw[:N]|digits[:N]|base32[:N]]" : ""}`,
    summary: SUMMARIES[type],
    options: takesFormat ? { format: { type: "string" } } : {},
    positionals: [0, 0],
    async run(context, values) {
      const format = typeof values.format === "string" ? values.format : undefined;
      const notification = await withElement(context, "write", (element) => element.submit(type, format));
      report(context, notification);
    },
  };
}

function report(context: CliContext, n: Notification): void {
  if (context.json) {
    const { request, requested, state, generation, handle, time } = n;
    printJson(context, { request, requested, state, generation, handle, time });
    return;
  }
  const handle = n.handle ?? "-";
  const what =
    n.request === "erase"
      ? `erased: the element is blank (generation ${n.generation} kept)`
      : `${n.request === "init" ? "initialized" : "reset"}: generation ${n.generation}, handle ${handle}`;
  const note = n.request !== n.requested ? ` (single-type mode: '${n.requested}' carried out as reset)` : "";
  print(context, `${what}, at ${n.time}${note}`);
}
