import { existsSync } from "node:fs";
import type { Credentials } from "../auth/actor.js";
import type { SourceSpec } from "../entropy/source-spec.js";
import { StorageError } from "../errors.js";
import type { StoreSpec } from "../storage/store-spec.js";
import type { StoreUse } from "./commands.js";

/** What every command gets: the global options, resolved, and where to print. */
export interface CliContext {
  readonly json: boolean;
  readonly storeDirectory: string;
  /** Whether the command may create the store directory or needs it to exist (see requireStore). */
  readonly storeUse: StoreUse;
  /**
   * The backend holding the store's areas as --tpm SPEC (or another backend's option, else its
   * variable) names it; null: the one the store remembers, else files (see storeSpecOfContext).
   */
  readonly store: StoreSpec | null;
  /** The entropy source --source or REID_SOURCE names; null: the backend's default. */
  readonly source: SourceSpec | null;
  readonly lockTimeoutMs: number;
  /** The key-encryption key from --kek-file / REID_KEK_FILE, read when a command opens the store. */
  readonly kekFile: string | undefined;
  /** The new key-encryption key of `seal --rotate --new-kek-file FILE`: only that command sets it. */
  readonly newKekFile?: string;
  /** The owner's PIN from --pin-file or REID_PIN; the prompt adds it when a command needs it. */
  readonly credentials: Credentials;
  /** The environment, for secrets a backend's spec names by variable. */
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** `multiple`: a string option that may be given more than once; its values come in `lists`. */
export type OptionSpec = {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: true;
};

/** A command module: its own options, how many positionals it takes, and what it does. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly positionals: readonly [min: number, max: number];
  run(
    context: CliContext,
    values: Readonly<Record<string, string | boolean | undefined>>,
    positionals: readonly string[],
    lists: Readonly<Record<string, readonly string[]>>,
  ): Promise<void>;
}

/** The backend the context names, else the one the store remembers, else files. */
export async function storeSpecOfContext(context: CliContext): Promise<StoreSpec> {
  if (context.store) return context.store;
  const { rememberedStoreSpec } = await import("../storage/store-spec.js");
  return rememberedStoreSpec(context.storeDirectory);
}

/**
 * Refuses a store directory that does not exist unless the command creates it (`init`, `pin set`,
 * `serve`: see STORE_USE): a mistyped --store is said to be one, not read as a blank element.
 * Called where the store is first needed, so bad input is still reported first (exit 2).
 */
export function requireStore(context: CliContext): void {
  if (context.storeUse === "existing" && !existsSync(context.storeDirectory)) {
    throw new StorageError(`no store at ${context.storeDirectory}: 'reid init' creates it`, "no-store");
  }
}

export function print(context: CliContext, text: string): void {
  context.stdout.write(`${text}\n`);
}

export function printJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value)}\n`);
}
