import { UsageError } from "../errors.js";

/**
 * `--log-key NAME+ID+KEY`, the registry's verifier key as `registry init` prints it (docs/spec.md
 * §10.12): bad input until it parses, before anything is sent.
 */
export async function logKeyOption(text: string | undefined): Promise<string | undefined> {
  if (text === undefined) return undefined;
  const { parseVerifierKey } = await import("../registry/log/note.js");
  try {
    parseVerifierKey(text);
  } catch {
    throw new UsageError(
      "--log-key must be the registry's log key, NAME+ID+KEY as 'reid registry init' prints it",
    );
  }
  return text;
}
