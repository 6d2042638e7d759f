import { UsageError } from "../../errors.js";
import type { ElementMode } from "../../storage/record.js";
import type { Command } from "../context.js";
import { report } from "../request.js";
import { withElement } from "../with-element.js";

const MODES: readonly ElementMode[] = ["random", "factory"];

export const command: Command = {
  usage: "reid [--store DIR] [--json] mode random|factory",
  summary:
    "Switches modes (owner operation): random erases the factory identifier and writes a random one; factory (a factory reset) restores the factory identity.",
  options: {},
  positionals: [1, 1],
  async run(context, _values, positionals) {
    const text = positionals[0] ?? "";
    const mode = MODES.find((m) => m === text);
    if (!mode) throw new UsageError(`bad mode '${text.slice(0, 64)}': expected random or factory`);
    report(context, await withElement(context, "write", (element) => element.switchMode(mode)));
  },
};
