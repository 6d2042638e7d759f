import { UsageError } from "../errors.js";
import { CONDITIONED_MIN_ENTROPY } from "./source.js";

/** What `--source` / REID_SOURCE names: the OS generator or a device, with its min-entropy claim. */
export type SourceSpec =
  | { readonly kind: "os" }
  | { readonly kind: "device"; readonly path: string; readonly minEntropy: number };

export const DEFAULT_SOURCE: SourceSpec = { kind: "os" };

const SYNTAX = "expected 'os' or 'device:PATH[,min-entropy=H]' with 0 < H <= 8";

export function parseSourceSpec(text: string): SourceSpec {
  if (text === "os") return DEFAULT_SOURCE;
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
  return spec.kind === "os" ? "os" : `device:${spec.path}`;
}
