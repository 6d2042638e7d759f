import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { type CliResult, reid } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";

/** The CLI on one store with one --tpm spec: run (any exit), ok (exit 0 asserted), json. */
export function storeCli(store: string, spec: string) {
  const run = (args: readonly string[]): Promise<CliResult> =>
    reid(["--store", store, "--tpm", spec, ...args]);
  const ok = async (args: readonly string[]) => {
    const result = await run(args);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  const json = async <T>(args: readonly string[]) => JSON.parse((await ok(["--json", ...args])).stdout) as T;
  return { run, ok, json };
}

/** Runs a tpm2-tools command on the swtpm that `tcti` names (TPM2TOOLS_TCTI). */
export async function tpm2(tcti: string, args: readonly string[], input?: Uint8Array) {
  const child = spawn(args[0] as string, args.slice(1), {
    env: { PATH: process.env.PATH, TPM2TOOLS_TCTI: tcti },
    stdio: [input ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (input) child.stdin?.end(input);
  const { code, stdout, stderr } = await finished(child);
  return { code, stdout, stderr: stderr.toString("utf8") };
}

/** The same, which must succeed. */
export async function tpm2Ok(tcti: string, args: readonly string[], input?: Uint8Array) {
  const result = await tpm2(tcti, args, input);
  assert.equal(result.code, 0, `${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}
