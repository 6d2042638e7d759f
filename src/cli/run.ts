import { parseArgs } from "node:util";
import type { Credentials } from "../auth/actor.js";
import { checkGivenPin } from "../auth/owner-pin.js";
import { parseSourceSpec } from "../entropy/source-spec.js";
import { describeOsError, ExitCode, ReidError, UsageError } from "../errors.js";
import { GENERATORS, NAMED_BACKENDS } from "../storage/backends.js";
import { storeDirectory } from "../storage/location.js";
import { givenStoreSpec, type StoreSpec } from "../storage/store-spec.js";
import { COMMANDS, storeUse, unknownCommand } from "./commands.js";
import type { CliContext, OptionSpec } from "./context.js";
import { GLOBAL_OPTIONS, optionNames } from "./global-options.js";
import { readTextSecret } from "./key-file.js";
import { didYouMean } from "./suggest.js";

const DEFAULT_LOCK_TIMEOUT_S = 10;

export interface Io {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Runs one `reid` invocation and returns its exit code; every failure is one line on stderr. */
export async function run(io: Io): Promise<number> {
  const json = io.argv.includes("--json");
  const output = watchOutput(io.stdout);
  try {
    const { name, rest } = splitCommand(io.argv);
    // A bare `reid --version` answers without loading the help command's chunk.
    if (name === "help" && rest.includes("--version")) return await printVersion(io, json, output);
    const load = COMMANDS[name];
    if (!load) throw unknownCommand(name);
    const { command } = await load();
    const parsed = parse(rest, { ...GLOBAL_OPTIONS, ...command.options }, `reid ${name}`);
    const { values, lists } = splitLists(parsed.values);
    const { positionals } = parsed;
    if (values.version) return await printVersion(io, values.json === true, output);
    if (values.help) {
      io.stdout.write(`usage: ${command.usage}\n${command.summary}\n`);
      return await output.done();
    }
    const [min, max] = command.positionals;
    if (positionals.length < min)
      throw new UsageError(`'reid ${name}' is missing an argument: ${command.usage}`);
    if (positionals.length > max)
      throw new UsageError(`unexpected argument '${positionals[max]}' for 'reid ${name}'`);
    const store = storeDirectory(asString(values.store), io.env);
    const backend = await storeSpecFor(values, io.env);
    const sourceText = asString(values.source) ?? (io.env.REID_SOURCE || undefined);
    const context: CliContext = {
      json: values.json === true,
      storeDirectory: store,
      storeUse: storeUse(name, positionals),
      store: backend,
      source: sourceText ? parseSourceSpec(sourceText, GENERATORS) : null,
      lockTimeoutMs: lockTimeout(io.env.REID_LOCK_TIMEOUT),
      kekFile: asString(values["kek-file"]) ?? (io.env.REID_KEK_FILE || undefined),
      credentials: credentials(asString(values["pin-file"]), io.env.REID_PIN),
      env: io.env,
      stdout: io.stdout,
      stderr: io.stderr,
    };
    await command.run(context, values, positionals, lists);
    return await output.done();
  } catch (error) {
    return report(error, json, io);
  }
}

/**
 * Write failures on stdout arrive as 'error' events, after the write: unheard, they would end the
 * process with a stack trace. A reader that went away (EPIPE: `reid status | true`) ends the command
 * quietly; any other failure (ENOSPC on `> /dev/full`) is reported as one line.
 */
function watchOutput(stdout: NodeJS.WritableStream): { done(): Promise<ExitCode> } {
  let failure: NodeJS.ErrnoException | null = null;
  // Never removed: an 'error' that finds no listener, however late, crashes the process.
  stdout.on("error", (error: NodeJS.ErrnoException) => {
    failure ??= error;
  });
  return {
    async done() {
      // Errors of the last writes are emitted on the next tick; let them arrive.
      await new Promise((resolve) => setImmediate(resolve));
      const error = failure as NodeJS.ErrnoException | null;
      if (error && error.code !== "EPIPE") {
        throw new ReidError(
          "output-failed",
          ExitCode.internal,
          `cannot write to stdout: ${describeOsError(error)}`,
        );
      }
      return ExitCode.ok;
    },
  };
}

/** The command is the first word that is not a global option (or a global option's value). */
function splitCommand(argv: readonly string[]): { name: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (!word.startsWith("-")) return { name: word, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    const option = /^--?([^=]+)/.exec(word)?.[1] ?? "";
    const spec = GLOBAL_OPTIONS[option] ?? Object.values(GLOBAL_OPTIONS).find((o) => o.short === option);
    if (!spec) {
      // The name only: "--pin=SECRET" must not echo the value.
      const name = word.split("=")[0] ?? word;
      const advice = didYouMean(name, optionNames(GLOBAL_OPTIONS), " (see 'reid help')");
      throw new UsageError(`unknown option '${name}' before the command${advice}`);
    }
    if (spec.type === "string" && !word.includes("=")) {
      if (i + 1 >= argv.length) throw new UsageError(`option '${word}' needs a value`);
      i++;
    }
  }
  const asked = argv.some((word) => word === "--help" || word === "-h" || word === "--version");
  if (asked) return { name: "help", rest: argv.filter((word) => word !== "--help" && word !== "-h") };
  throw new UsageError("no command given (see 'reid help')");
}

function parse(args: string[], options: Record<string, OptionSpec>, where: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, where, optionNames(options)));
  }
}

/** Options given more than once (declared `multiple`) apart from the others. */
function splitLists(parsed: Record<string, string | boolean | (string | boolean)[] | undefined>) {
  const values: Record<string, string | boolean | undefined> = {};
  const lists: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (Array.isArray(value)) lists[key] = value.map(String);
    else values[key] = value;
  }

  return { values, lists };
}

function describeParseError(error: unknown, where: string, known: readonly string[]): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-[^']*)'/.exec(message)?.[1] ?? /(--?[\w-]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option '${option}' for '${where}'${didYouMean(option, known, "")}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return describeBadValue(option.split(" ")[0] ?? option, where, message);
    default:
      return `${where}: ${message.split("\n")[0]}`;
  }
}

function describeBadValue(option: string, where: string, message: string): string {
  if (/argument missing/.test(message)) return `option '${option}' of '${where}' needs a value`;
  // "--bytes -3": parseArgs will not take a value that looks like an option.
  if (/ambiguous/.test(message)) {
    return `option '${option}' of '${where}' needs a value; for one that starts with '-', write ${option}=VALUE`;
  }
  return `option '${option}' of '${where}' takes no value`;
}

/** The PIN never comes from argv: a file (--pin-file) or the environment (REID_PIN). */
function credentials(pinFile: string | undefined, fromEnv: string | undefined): Credentials {
  if (pinFile !== undefined) {
    const pin = readTextSecret(pinFile, "PIN file");
    checkGivenPin(pin, `the PIN in ${pinFile}`);
    return { pin };
  }
  if (fromEnv) checkGivenPin(fromEnv, "REID_PIN");
  return fromEnv ? { pin: fromEnv } : {};
}

/**
 * The backend an option names (--tpm SPEC), else the one a variable names (REID_TPM), parsed; null
 * when neither names one (the store's own, which the opener reads under the store's lock, else
 * files). A store has one backend: naming two is a usage error.
 */
async function storeSpecFor(
  values: Readonly<Record<string, string | boolean | undefined>>,
  env: NodeJS.ProcessEnv,
): Promise<StoreSpec | null> {
  const byOption = NAMED_BACKENDS.flatMap(({ kind, option }) => {
    const text = asString(values[String(option)]);
    return text === undefined ? [] : [{ kind, text, name: `--${option}` }];
  });
  const byVariable = NAMED_BACKENDS.flatMap(({ kind, variable }) => {
    const text = variable ? env[variable] || undefined : undefined;
    return text === undefined ? [] : [{ kind, text, name: `$${variable}` }];
  });
  const chosen = byOption.length > 0 ? byOption : byVariable;
  if (chosen.length > 1) {
    throw new UsageError(`a store has one backend: give only one of ${chosen.map((c) => c.name).join(", ")}`);
  }
  const [one] = chosen;
  return one ? givenStoreSpec(one.kind, one.text) : null;
}

function asString(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function lockTimeout(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_LOCK_TIMEOUT_S * 1000;
  const seconds = Number(text);
  if (!(seconds >= 0 && seconds <= 3600)) {
    throw new UsageError(`bad REID_LOCK_TIMEOUT '${text}': expected seconds in 0..3600`);
  }
  return seconds * 1000;
}

/** Set by the build (scripts/build.mjs); a run from source reports "dev". */
declare const REID_VERSION: string | undefined;

function printVersion(io: Io, json: boolean, output: ReturnType<typeof watchOutput>): Promise<number> {
  io.stdout.write(json ? `${JSON.stringify({ version: version() })}\n` : `reid ${version()}\n`);
  return output.done();
}

function version(): string {
  return typeof REID_VERSION === "string" ? REID_VERSION : "dev";
}

function report(error: unknown, json: boolean, io: Io): number {
  const known = error instanceof ReidError;
  const code = known ? error.code : "internal";
  const exitCode = known ? error.exitCode : ExitCode.internal;
  const text = known ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`;
  // Messages echo user input: control characters and line breaks are escaped, so the message
  // stays one line and cannot steer the terminal.
  const message = text.replace(
    /[\p{Cc}\p{Zl}\p{Zp}]/gu,
    (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`,
  );
  if (json) io.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else io.stderr.write(`reid: ${message}\n`);
  if (!known && io.env.REID_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
  return exitCode;
}
