import { UnreachableError, UsageError } from "../../errors.js";
import { type CliContext, type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--pin-file FILE] [--json] unlock [--for DURATION]",
  summary:
    "Opens the owner's unlock window, like 'ssh-add -t': for DURATION (90s, 15m, 2h; default 15m, at most 12h) 'command', 'telemetry', 'enroll' and 'renew' through the running daemon need no PIN ('keys' and 'sign' never do); init, reset, erase, mode, pin, seal, export and schedule still do. Needs the PIN once; lives in the daemon's memory, so 'reid serve' must run; 'reid lock' or a daemon restart ends it.",
  options: { for: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const [{ DEFAULT_UNLOCK_SECONDS }, { parseUnlockDuration }] = await Promise.all([
      import("../../auth/actor.js"),
      import("../../auth/unlock-window.js"),
    ]);
    const given = values.for;
    const seconds = given === undefined ? DEFAULT_UNLOCK_SECONDS : durationOf(given, parseUnlockDuration);
    const { until } = await withElement(
      context,
      "write",
      (element) => element.unlock(seconds),
      () =>
        noDaemon(context, "an unlock window lives in the daemon's memory: start 'reid serve', then unlock"),
    );
    if (context.json) return printJson(context, { until });
    print(
      context,
      `unlocked until ${until}: 'command', 'telemetry', 'enroll' and 'renew' need no PIN until then ('reid lock' ends it)`,
    );
  },
};

function durationOf(given: string | boolean, parse: (text: string) => number | null): number {
  const seconds = typeof given === "string" ? parse(given) : null;
  if (seconds === null) {
    throw new UsageError(
      `bad --for '${String(given).slice(0, 16)}': a duration such as 90s, 15m or 2h, from 1 s to 12 h`,
    );
  }
  return seconds;
}

/** Exit 7: the daemon, the peer that holds the window, is not there (docs/spec.md §3.3). */
export function noDaemon(context: CliContext, hint: string): UnreachableError {
  return new UnreachableError(
    "daemon-unreachable",
    `no daemon serves store ${context.storeDirectory}: ${hint}`,
  );
}
