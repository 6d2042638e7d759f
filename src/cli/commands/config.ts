import { StateError, UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] config [single-type on|off | registry-continuity on|off]",
  summary:
    "Shows the element's settings, or turns single-type mode (every request is a reset) on or off, or whether a reset of an enrolled element is a succession at its registry (on, the default) or unlinkable (off).",
  options: {},
  positionals: [0, 2],
  async run(context, _values, positionals) {
    const [key, value] = positionals;
    if (key !== undefined && key !== "single-type" && key !== "registry-continuity") {
      throw new UsageError(`unknown setting '${key}' (settings: single-type, registry-continuity)`);
    }
    if (key !== undefined && value !== "on" && value !== "off") {
      throw new UsageError(`'reid config ${key}' takes 'on' or 'off'`);
    }
    if (key === "registry-continuity") return continuity(context, value === "on");
    const status = await withElement(context, key ? "write" : "read", (element) =>
      key ? element.setSingleType(value === "on") : element.status(),
    );
    const settings = { "single-type": status.requests === "single-type", format: status.format };
    if (context.json) return printJson(context, settings);
    print(context, `single-type ${settings["single-type"] ? "on" : "off"}\nformat      ${settings.format}`);
  },
};

/** The enrollment's continuity (docs/spec.md §10.9): kept in enrollment.json, read at each reset. */
async function continuity(context: Parameters<Command["run"]>[0], on: boolean): Promise<void> {
  const { readEnrollment, writeEnrollment } = await import("../../enrollment/enrollment-record.js");
  const record = readEnrollment(context.storeDirectory);
  if (record === null)
    throw new StateError("not-enrolled", "this element is not enrolled: run reid enroll URL");
  writeEnrollment(context.storeDirectory, { ...record, continuity: on });
  if (context.json) return printJson(context, { "registry-continuity": on });
  print(context, `registry-continuity ${on ? "on" : "off"}`);
}
