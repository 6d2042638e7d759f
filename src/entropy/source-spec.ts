import { UsageError } from "../errors.js";
import { CONDITIONED_MIN_ENTROPY } from "./source.js";

/** What `--source` / REID_SOURCE names: the OS generator or a device, with its min-entropy claim. */
export type SourceSpec =
  | { readonly kind: "os" }
  | { readonly kind: "device"; readonly path: string; readonly minEntropy: number }
  /** The element's TPM (TPM2_GetRandom), alone or mixed with the OS generator. */
  | { readonly kind: "tpm"; readonly mixOs: boolean };

export const DEFAULT_SOURCE: SourceSpec = { kind: "os" };

/** The default with the TPM backend: the TPM's generator, never trusted alone. */
export const TPM_DEFAULT_SOURCE: SourceSpec = { kind: "tpm", mixOs: true };

const SYNTAX = "expected 'os', 'tpm', 'tpm+os' or 'device:PATH[,min-entropy=H]' with 0 < H <= 8";

export function parseSourceSpec(text: string): SourceSpec {
  if (text === "os") return DEFAULT_SOURCE;
  if (text === "tpm" || text === "tpm+os") return { kind: "tpm", mixOs: text === "tpm+os" };
  if (!text.startsWith("device:")) throw new UsageError(`bad --source '${text}': ${SYNTAX}`);
  const [path = "", ...params] = text.slice("device:".length).split(",");
  if (path === "") throw new UsageError(`bad --source '${text}': the device path is missing`);
  let minEntropy = CONDITIONED_MIN_ENTROPY;
  for (const param of params) {
    const match = /^min-entropy=(\d+(?:\.\d+)?)$/.exec(param);
    const value = match ? Number(match[1]) : Number.NaN;
    if (!(value > 0 && value <= 8)) throw new UsageError(`bad --source '${text}': ${SYNTAX}`);
    minEntropy = value;
  }
  return { kind: "device", path, minEntropy };
}

export function sourceName(spec: SourceSpec): string {
  switch (spec.kind) {
    case "os":
      return "os";
    case "tpm":
      return spec.mixOs ? "tpm+os" : "tpm";
    case "device":
      return `device:${spec.path}`;
  }
}
