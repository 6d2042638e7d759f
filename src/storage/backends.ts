import type { EntropySource } from "../entropy/source.js";
import { UsageError } from "../errors.js";
import type { Backend, OpenedBackend } from "./backend.js";
import { backend as fileBackend } from "./file/backend.js";

/** One backend: how the CLI names it, and its module, loaded only when a store uses it. */
export interface BackendEntry {
  /** What store.json and --source call it. */
  readonly kind: string;
  /** How messages and help name it ("the TPM backend"). */
  readonly label: string;
  /** The global option naming its spec (--tpm SPEC); none for the default. */
  readonly option: string | null;
  /** The environment variable read when the option is absent. */
  readonly variable: string | null;
  load(): Promise<Backend<unknown>>;
}

/** The default: the store directory's own area files. */
export const FILES = "files";

/**
 * Every backend, one line each: kind, label, option, variable, module. The first is the default;
 * it is loaded with the registry (every status on a file store needs it, and a chunk of its own
 * would cost that path a round of module loading), the others only when a store uses them.
 * Specified in docs/spec.md §3.1, §5.5.
 */
export const BACKENDS: readonly BackendEntry[] = [
  entry(FILES, "files", null, null, async () => ({ backend: fileBackend })),
  entry("tpm", "TPM", "tpm", "REID_TPM", () => import("./tpm/backend.js")),
  entry("pkcs11", "PKCS#11", "pkcs11", "REID_PKCS11", () => import("./pkcs11/backend.js")),
];

function entry(
  kind: string,
  label: string,
  option: string | null,
  variable: string | null,
  module: () => Promise<{ readonly backend: Backend<unknown> }>,
): BackendEntry {
  return { kind, label, option, variable, load: async () => (await module()).backend };
}

/** The backends a global option can name (every one but the default). */
export const NAMED_BACKENDS = BACKENDS.filter((entry) => entry.option !== null);

export function backendEntry(kind: string): BackendEntry | undefined {
  return BACKENDS.find((entry) => entry.kind === kind);
}

/** "the TPM backend (--tpm)": how a message tells the user which backend something needs. */
export function backendName(kind: string): string {
  const entry = backendEntry(kind);
  if (!entry) return `a backend '${kind}'`;
  return entry.option ? `the ${entry.label} backend (--${entry.option})` : `the ${entry.label} backend`;
}

/** The opened backend's generator, as the entropy side takes it. */
export function generatorOf(backend: OpenedBackend): (() => EntropySource) | undefined {
  const generate = backend.randomSource;
  return generate ? () => generate.call(backend) : undefined;
}

/** The kinds whose generator --source may name (KIND, KIND+os): every backend but the default. */
export const GENERATORS: readonly string[] = NAMED_BACKENDS.map((entry) => entry.kind);

/**
 * Checks that `--source NAME`, the generator of backend `wanted`, can come from the store's backend
 * `kind` (`generator`: whether that backend, once open, has one): a usage error otherwise.
 */
export function checkGenerator(name: string, wanted: string, kind: string, generator = true): void {
  if (kind !== wanted) throw new UsageError(`--source ${name} needs ${backendName(wanted)}`);
  if (!generator) throw new UsageError(`--source ${name}: ${backendName(kind)} has no generator of its own`);
}
