import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { finished } from "./process.js";

/** The built CLI, exactly what `npm install -g` would run. `npm test` builds it first. */
export const REID = fileURLToPath(new URL("../../dist/reid.js", import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

export interface CliOptions {
  /** Extra environment; the child otherwise gets only PATH and a private HOME. */
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly timeoutMs?: number;
  /** Runs `prefix... node dist/reid.js args` (e.g. unshare, or an LD_PRELOAD wrapper). */
  readonly prefix?: readonly string[];
  /** The working directory (default: the test runner's). */
  readonly cwd?: string;
}

/**
 * Directories above the checkout that other users may not pass through (a clone in a 0700
 * `mktemp -d`), opened for traversal only (o+x, no listing) while the tests run as another uid, and
 * put back when the test process ends.
 */
const opened = new Map<string, number>();
function letOthersReachCheckout(): void {
  for (let dir = dirname(REID); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0 && !opened.has(dir)) {
      if (opened.size === 0) {
        process.once("exit", () => {
          for (const [path, was] of opened) chmodSync(path, was);
        });
      }
      opened.set(dir, mode);
      chmodSync(dir, mode | 0o001);
    }
  }
}

/** Runs `reid ARGS` as a separate process with a clean environment. */
export function reid(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  assert.ok(existsSync(REID), `${REID} is missing: run 'npm run build' (npm test does it)`);
  // Another user must at least reach the built CLI and its node_modules to be refused by the store.
  if (options.uid !== undefined && options.uid !== process.getuid?.()) letOthersReachCheckout();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: options.home ?? "/nonexistent-home",
    ...options.env,
  };
  const [command, ...rest] = [...(options.prefix ?? []), process.execPath, REID, ...args];
  const child = spawn(command as string, rest, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    timeout: options.timeoutMs ?? 60_000,
  });
  return finished(child).then(({ code, signal, stdout, stderr }) => ({
    code,
    signal,
    stdout: stdout.toString("utf8"),
    stderr: stderr.toString("utf8"),
    stdoutBytes: stdout,
  }));
}

/** Like reid(), but fails the test unless it exits 0; returns stdout parsed as JSON when asked for. */
export async function reidOk(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await reid(args, options);
  assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}

export async function reidJson<T = Record<string, unknown>>(
  args: readonly string[],
  options: CliOptions = {},
): Promise<T> {
  const result = await reidOk([...args, "--json"], options);
  return JSON.parse(result.stdout) as T;
}

/**
 * The contract for every failure: the expected exit code, nothing on stdout, exactly one line on
 * stderr that starts with "reid: " (or one JSON error object with --json), and no stack trace.
 */
export function assertOneLineError(result: CliResult, exitCode: number, pattern?: RegExp): void {
  assert.equal(
    result.code,
    exitCode,
    `expected exit ${exitCode}, got ${result.code}: ${result.stderr.trim()}`,
  );
  assert.equal(result.stdout, "", "a failed command prints nothing on stdout");
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  const line = lines[0] ?? "";
  // A stack frame: "at fn (/path/file.js:1:2)" or "at /path/file.js:1:2" / "file://" / "node:".
  const frame = /\bat (?:async )?(?:\S+ \()?(?:file:\/\/|node:|\/)\S+:\d+:\d+\)?/;
  assert.doesNotMatch(line, frame, `stack-trace-like output: ${line}`);
  assert.doesNotMatch(line, /Error:|node:internal/, `stack-trace-like output: ${line}`);
  if (line.startsWith("{")) {
    const parsed = JSON.parse(line) as { error?: { code?: unknown; message?: unknown } };
    assert.equal(typeof parsed.error?.code, "string");
    assert.equal(typeof parsed.error?.message, "string");
    if (pattern) assert.match(String(parsed.error?.message), pattern);
  } else {
    assert.match(line, /^reid: \S/);
    if (pattern) assert.match(line, pattern);
  }
}
