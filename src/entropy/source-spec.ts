import { UsageError } from "../errors.js";
import { CONDITIONED_MIN_ENTROPY } from "./source.js";

/**
 * What `--source` / REID_SOURCE names: the OS generator, a device with its min-entropy claim, or
 * the generator of the store's backend (TPM2_GetRandom, C_GenerateRandom), alone or mixed with
 * the OS generator (`tpm`, `tpm+os`).
 * Specified in docs/spec.md §5.8.
 */
export type SourceSpec =
  | { readonly kind: "os" }
  | { readonly kind: "device"; readonly path: string; readonly minEntropy: number }
  | { readonly kind: "backend"; readonly backend: string; readonly mixOs: boolean };

export const DEFAULT_SOURCE: SourceSpec = { kind: "os" };

/**
 * Parses a --source text. `generators` are the backends that have one (the storage registry's
 * kinds); which one the store actually opened is checked when it opens.
 */
export function parseSourceSpec(text: string, generators: readonly string[]): SourceSpec {
  const syntax = `expected ${["os", ...generators.flatMap((kind) => [kind, `${kind}+os`])]
    .map((name) => `'${name}'`)
    .join(", ")} or 'device:PATH[,min-entropy=H]' with 0 < H <= 8`;
  if (text === "os") return DEFAULT_SOURCE;
  const backend = /^([a-z][a-z0-9]*)(\+os)?$/.exec(text);
  if (backend && generators.includes(backend[1] as string)) {
    return { kind: "backend", backend: backend[1] as string, mixOs: backend[2] !== undefined };
  }
  if (!text.startsWith("device:")) throw new UsageError(`bad --source '${text}': ${syntax}`);
  const [path = "", ...params] = text.slice("device:".length).split(",");
  if (path === "") throw new UsageError(`bad --source '${text}': the device path is missing`);
  let minEntropy = CONDITIONED_MIN_ENTROPY;
  for (const param of params) {
    const match = /^min-entropy=(\d+(?:\.\d+)?)$/.exec(param);
    const value = match ? Number(match[1]) : Number.NaN;
    if (!(value > 0 && value <= 8)) throw new UsageError(`bad --source '${text}': ${syntax}`);
    minEntropy = value;
  }
  return { kind: "device", path, minEntropy };
}

export function sourceName(spec: SourceSpec): string {
  switch (spec.kind) {
    case "os":
      return "os";
    case "backend":
      return spec.mixOs ? `${spec.backend}+os` : spec.backend;
    case "device":
      return `device:${spec.path}`;
  }
}
