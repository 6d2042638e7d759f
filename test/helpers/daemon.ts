import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import { answers, socketPath } from "../../src/daemon/socket.js";
import { REID } from "./cli.js";
import { type Finished, finished } from "./process.js";

export interface DaemonOptions {
  /** Extra environment; the child otherwise gets only PATH and a private HOME, like reid(). */
  readonly env?: NodeJS.ProcessEnv;
  /** Global options before `serve` (e.g. --source, --kek-file). */
  readonly args?: readonly string[];
  /** How long to wait for the socket to answer. */
  readonly startTimeoutMs?: number;
  /** Options after `serve` (e.g. --device --listen 127.0.0.1:0). */
  readonly serveArgs?: readonly string[];
  /** Runs `prefix... node dist/reid.js ...` (e.g. ip netns exec NS), as reid() does. */
  readonly prefix?: readonly string[];
  /** The daemon's working directory (default: the test runner's). */
  readonly cwd?: string;
}

/** A `reid serve` child process serving one store. */
export interface ServedDaemon {
  readonly store: string;
  readonly socket: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Resolves once the process has exited, with everything it printed. */
  readonly exited: Promise<Finished>;
  /** SIGTERM by PID, then SIGKILL if it has not exited after `graceMs`; resolves with its exit. */
  stop(graceMs?: number): Promise<Finished>;
  /** SIGKILL by PID (a crash: nothing is cleaned up). */
  kill(): Promise<Finished>;
}

/**
 * Starts `node dist/reid.js --store STORE serve` and waits until its socket accepts connections
 * (a socket file alone proves nothing: a killed daemon leaves one behind). Rejects with the
 * child's stderr if it exits first.
 */
export async function startServe(store: string, options: DaemonOptions = {}): Promise<ServedDaemon> {
  assert.ok(existsSync(REID), `${REID} is missing: run 'npm run build' (npm test does it)`);
  const [command, ...rest] = [
    ...(options.prefix ?? []),
    process.execPath,
    REID,
    "--store",
    store,
    ...(options.args ?? []),
    "serve",
    ...(options.serveArgs ?? []),
  ];
  const child = spawn(command as string, rest, {
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const exited = finished(child);
  let printed = "";
  let complained = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    printed += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    complained += chunk.toString("utf8");
  });
  let gone: Finished | null = null;
  let failed: Error | null = null;
  // Never an unhandled rejection: a child that cannot start fails the wait below.
  exited.then(
    (result) => {
      gone = result;
    },
    (error: Error) => {
      failed = error;
    },
  );
  const pid = child.pid;
  assert.ok(pid !== undefined, "cannot start reid serve");
  const socket = socketPath(store);
  const daemon = handle(
    store,
    socket,
    pid,
    child,
    exited,
    () => printed,
    () => complained,
  );
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (failed !== null) assert.fail(`cannot start reid serve: ${(failed as Error).message}`);
    if (gone !== null) {
      const { code, signal, stderr } = gone as Finished;
      assert.fail(`reid serve exited (${code ?? signal}) before serving: ${stderr.toString().trim()}`);
    }
    if (await answers(socket)) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop();
      assert.fail(`reid serve did not answer on ${socket} within ${options.startTimeoutMs ?? 30_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** startServe(), stopped (SIGTERM, SIGKILL as a safety net) when the test ends. */
export async function serve(
  t: TestContext,
  store: string,
  options: DaemonOptions = {},
): Promise<ServedDaemon> {
  const daemon = await startServe(store, options);
  t.after(() => daemon.stop());
  return daemon;
}

/** Stops the daemon (SIGTERM) and asserts it shut down cleanly: exit 0. */
export async function stopCleanly(daemon: ServedDaemon): Promise<void> {
  const { code, signal, stderr } = await daemon.stop();
  assert.equal(code, 0, `reid serve exited ${code ?? signal}: ${stderr.toString().trim()}`);
}

function handle(
  store: string,
  socket: string,
  pid: number,
  child: ChildProcess,
  exited: Promise<Finished>,
  stdout: () => string,
  stderr: () => string,
): ServedDaemon {
  const running = () => child.exitCode === null && child.signalCode === null;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  };
  return {
    store,
    socket,
    pid,
    child,
    stdout,
    stderr,
    exited,
    async stop(graceMs = 15_000) {
      if (running()) {
        signal("SIGTERM");
        const timer = setTimeout(() => {
          if (running()) signal("SIGKILL");
        }, graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
    async kill() {
      if (running()) signal("SIGKILL");
      return exited;
    },
  };
}

export { answers };
