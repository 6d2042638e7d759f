import type { CliContext } from "../../context.js";
import { writable } from "../../writable.js";

/**
 * Writes lines to stdout at the pace its reader takes them, so a listing of a million devices never
 * waits in memory. Answers false once stdout has failed (its reader went away): the caller stops,
 * and the CLI's own watch on stdout reports the failure (or, for EPIPE, ends quietly).
 */
export function lineWriter(context: CliContext): (line: string) => Promise<boolean> {
  const { stdout } = context;
  let failed = false;
  stdout.on("error", () => {
    failed = true;
  });
  const gone = () => failed;
  return async (line) => {
    if (gone()) return false;
    if (!stdout.write(`${line}\n`)) await writable(stdout, gone);
    return !gone();
  };
}
