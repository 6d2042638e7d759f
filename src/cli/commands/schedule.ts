import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] schedule list | schedule cancel ID",
  summary: "Lists the requests waiting for their time (--at), or cancels one before it runs.",
  options: {},
  positionals: [1, 2],
  async run(context, _values, [action, id]) {
    if (action === "list") {
      if (id !== undefined) throw new UsageError(`unexpected argument '${id}' for 'reid schedule list'`);
      const { scheduled } = await withElement(context, "read", (element) => element.status());
      if (context.json) return printJson(context, { scheduled });
      if (scheduled.length === 0) return print(context, "no scheduled requests");
      for (const entry of scheduled) {
        print(
          context,
          `${entry.id}  ${entry.at}  ${entry.type}${entry.format ? ` --format ${entry.format}` : ""}${entry.unlinkable ? " --unlinkable" : ""}`,
        );
      }
      return;
    }
    if (action !== "cancel")
      throw new UsageError(`unknown 'reid schedule' action '${action}' (list or cancel)`);
    if (id === undefined)
      throw new UsageError("'reid schedule cancel' needs the ID that 'reid schedule list' shows");
    const cancelled = await withElement(context, "write", (element) => element.cancelScheduled(id));
    if (context.json) return printJson(context, { cancelled });
    print(context, `cancelled: ${cancelled.type} at ${cancelled.at} (id ${cancelled.id})`);
  },
};
