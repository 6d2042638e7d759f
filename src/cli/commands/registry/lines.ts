import type { CliContext } from "../../context.js";

/**
 * Writes lines to stdout at the pace its reader takes them, so a listing of a million devices never
 * waits in memory. Answers false once stdout has failed (its reader went away): the caller stops,
 * and the CLI's own watch on stdout reports the failure (or, for EPIPE, ends quietly).
 */
export function lineWriter(context: CliContext): (line: string) => Promise<boolean> {
  const { stdout } = context;
  let failed = false;
  const fail = () => {
    failed = true;
  };
  stdout.on("error", fail);
  return async (line) => {
    if (failed) return false;
    if (!stdout.write(`${line}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stdout.off("drain", done);
          stdout.off("error", done);
          stdout.off("close", done);
          resolve();
        };
        stdout.on("drain", done);
        stdout.on("error", done);
        stdout.on("close", done);
      });
    }
    return !failed;
  };
}
