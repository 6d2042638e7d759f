import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

/** No daemon serves the store: there is no window to close, so the owner's wish already holds. */
class NoWindow extends Error {}

export const command: Command = {
  usage: "reid [--store DIR] [--json] lock",
  summary:
    "Closes the owner's unlock window ('reid unlock') now: 'command' and 'telemetry' need the PIN again. Needs no PIN; with no daemon running there is no window to close.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    let was: string | null;
    try {
      ({ was } = await withElement(
        context,
        "write",
        (element) => element.lock(),
        () => new NoWindow(),
      ));
    } catch (error) {
      if (!(error instanceof NoWindow)) throw error;
      was = null;
    }
    if (context.json) return printJson(context, { was });
    print(context, was ? `locked: the unlock window (until ${was}) is closed` : "no unlock window was open");
  },
};
