import type { BoundDevice, Notification, RequestType } from "../element/request.js";
import { UsageError } from "../errors.js";
import { FACTORY_KINDS, type FactoryKind } from "../factory/factory-source.js";
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
  const init = type === "init";
  const reset = type === "reset";
  return {
    usage: `reid [--store DIR] [--json] [--source SPEC] ${type}${takesFormat ? " [--format raw[:N]|digits[:N]|base32[:N]]" : ""}${init ? " [--factory puf-sim|tpm|host]" : ""}${reset ? " [--unlinkable]" : ""} [--at ISO-8601]`,
    summary: `${SUMMARIES[type]}${init ? " With --factory, in factory mode: the identifier from that factory source." : ""} ${reset ? " With --unlinkable, an enrolled element retires its old identity at the registry instead of naming its successor: nothing links the two." : ""} With --at, the request waits until that time (run by 'reid serve').`,
    options: {
      ...(takesFormat ? { format: { type: "string" } } : {}),
      ...(init ? { factory: { type: "string" } } : {}),
      ...(reset ? { unlinkable: { type: "boolean" } } : {}),
      at: { type: "string" },
    },
    positionals: [0, 0],
    async run(context, values) {
      const format = typeof values.format === "string" ? values.format : undefined;
      if (typeof values.factory === "string") {
        if (values.at !== undefined) throw new UsageError("--factory cannot be scheduled with --at");
        const factory = factoryKind(values.factory);
        const notification = await withElement(context, "write", (element) =>
          element.initFactory(factory, format),
        );
        return report(context, notification);
      }
      const unlinkable = values.unlinkable === true;
      if (typeof values.at === "string") {
        const at = values.at;
        const scheduled = await withElement(context, "write", (element) =>
          unlinkable ? element.schedule(type, format, at, true) : element.schedule(type, format, at),
        );
        if (context.json) return printJson(context, { request: type, state: "scheduled", scheduled });
        return print(
          context,
          `scheduled: ${type} at ${scheduled.at} (id ${scheduled.id}); 'reid serve' carries it out`,
        );
      }
      const notification = await withElement(context, "write", (element) =>
        unlinkable ? element.submit(type, format, true) : element.submit(type, format),
      );
      report(context, notification);
    },
  };
}

/**
 * Prints a notification: one JSON object with --json, else its line, then which bound devices were
 * told (`told: HANDLE@ADDRESS …`, `not reached: …`) on lines of their own, or after `; ` on the
 * same line where every event is one line (`events --follow`).
 */
export function report(context: CliContext, n: Notification, layout: "lines" | "one-line" = "lines"): void {
  if (context.json) {
    printJson(context, n);
    return;
  }
  const handle = n.handle ?? "-";
  const done: Record<Notification["request"], string> = {
    init: n.mode === "factory" ? "initialized in factory mode" : "initialized",
    reset: "reset",
    erase: "erased",
    "mode-random": "random mode: the factory identifier is erased",
    "mode-factory": "factory mode: the factory identity is restored",
  };
  const what =
    n.request === "erase"
      ? `erased: the element is blank (generation ${n.generation} kept)`
      : `${done[n.request]}: generation ${n.generation}, handle ${handle}`;
  const notes = [
    n.request !== n.requested ? ` (single-type mode: '${n.requested}' carried out as reset)` : "",
    n.scheduled
      ? ` (scheduled request ${n.scheduled}${n.late ? ", late: it fell due while no daemon ran" : ""})`
      : "",
  ];
  const lines = [`${what}, at ${n.time}${notes.join("")}`];
  if (n.devices) {
    // Told with the old key; a device not reached keeps accepting it until its owner unbinds.
    const list = (devices: readonly BoundDevice[]) =>
      devices.length === 0 ? "none" : devices.map((d) => `${d.handle}@${d.address}`).join(" ");
    lines.push(`told: ${list(n.devices.told)}`, `not reached: ${list(n.devices.unreachable)}`);
  }
  print(context, lines.join(layout === "lines" ? "\n" : "; "));
}

export function factoryKind(text: string): FactoryKind {
  const kind = FACTORY_KINDS.find((k) => k === text);
  if (!kind)
    throw new UsageError(`bad --factory '${text.slice(0, 64)}': expected ${FACTORY_KINDS.join(", ")}`);
  return kind;
}
