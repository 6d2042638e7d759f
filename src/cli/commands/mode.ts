import { UsageError } from "../../errors.js";
import type { ElementMode } from "../../storage/record.js";
import type { Command } from "../context.js";
import { report } from "../request.js";
import { withElement } from "../with-element.js";

const MODES: readonly ElementMode[] = ["random", "factory"];

export const command: Command = {
  usage: "reid [--store DIR] [--json] mode random [--unlinkable] | mode factory",
  summary:
    "Switches modes (owner operation): random erases the factory identifier and writes a random one (an enrolled element's registry follows it as a succession, unless --unlinkable); factory (a factory reset) restores the factory identity.",
  options: { unlinkable: { type: "boolean" } },
  positionals: [1, 1],
  async run(context, values, positionals) {
    const text = positionals[0] ?? "";
    const mode = MODES.find((m) => m === text);
    if (!mode) throw new UsageError(`bad mode '${text.slice(0, 64)}': expected random or factory`);
    const unlinkable = values.unlinkable === true;
    report(
      context,
      await withElement(context, "write", (element) =>
        unlinkable ? element.switchMode(mode, true) : element.switchMode(mode),
      ),
    );
  },
};
