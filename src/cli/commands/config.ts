import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] config [single-type on|off]",
  summary: "Shows the element's settings, or turns single-type mode (every request is a reset) on or off.",
  options: {},
  positionals: [0, 2],
  async run(context, _values, positionals) {
    const [key, value] = positionals;
    if (key !== undefined && key !== "single-type") {
      throw new UsageError(`unknown setting '${key}' (settings: single-type)`);
    }
    if (key !== undefined && value !== "on" && value !== "off") {
      throw new UsageError(`'reid config single-type' takes 'on' or 'off'`);
    }
    const status = await withElement(context, key ? "write" : "read", (element) =>
      key ? element.setSingleType(value === "on") : element.status(),
    );
    const settings = { "single-type": status.requests === "single-type", format: status.format };
    if (context.json) return printJson(context, settings);
    print(context, `single-type ${settings["single-type"] ? "on" : "off"}\nformat      ${settings.format}`);
  },
};
