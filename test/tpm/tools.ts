import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pinSecret, tpmAuthValue } from "../../src/auth/owner-secret.js";
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

/** The TPM's count of authorization failures (TPM2_PT_LOCKOUT_COUNTER), as tpm2_getcap shows it. */
export async function lockoutCounter(tcti: string): Promise<number> {
  const out = (await tpm2Ok(tcti, ["tpm2_getcap", "properties-variable"])).stdout.toString();
  const match = /TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-fA-F]+)/.exec(out);
  assert.ok(match, out);
  return Number(match[1]);
}

/** The authValue reid derives from `pin` with the salt the store's owner.json keeps, hex. */
export async function authValueOf(store: string, pin: string): Promise<string> {
  const owner = JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as { pin: { salt: string } };
  const secret = await pinSecret(pin, Buffer.from(owner.pin.salt, "hex"));
  return tpmAuthValue(secret).toString("hex");
}

/** An NV index as tpm2-tools names it. */
export const hexIndex = (index: number) => `0x${index.toString(16)}`;

/** tpm2_nvread of 256 bytes of `index` under `authorization` (tpm2-tools' -C and -P words), any exit. */
export function nvread(tcti: string, index: number, authorization: readonly string[]) {
  return tpm2(tcti, ["tpm2_nvread", ...authorization, "-s", "256", hexIndex(index)]);
}

/** The same, authorized by the index itself with the authValue reid derives from `pin`. */
export async function nvreadUnderPin(tcti: string, store: string, index: number, pin: string) {
  return nvread(tcti, index, ["-C", hexIndex(index), "-P", `hex:${await authValueOf(store, pin)}`]);
}
