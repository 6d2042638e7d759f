import { createHash } from "node:crypto";
import { createServer, type Server } from "node:net";
import { StorageError } from "../errors.js";

export interface ProcessLock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  readonly timeoutMs: number;
  /** What is locked, for the message a waiter gets: "store /path". */
  readonly what: string;
}

/**
 * One holder per key across processes, released by the kernel the instant the holder dies, so a
 * SIGKILL never leaves a stale lock behind. The lock is a bound Linux abstract Unix socket: no file,
 * no PID to check, no clean-up. A second holder waits (polling) up to the timeout, then fails with
 * a StorageError naming what is busy.
 */
export async function acquireProcessLock(key: string, options: LockOptions): Promise<ProcessLock> {
  const name = `\0reid-lock-${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
  const deadline = Date.now() + options.timeoutMs;
  let pause = 1;
  for (;;) {
    const server = await tryListen(name);
    if (server) {
      server.unref();
      return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    }
    if (Date.now() >= deadline) {
      throw new StorageError(
        `${options.what} is busy: another reid process holds it (waited ${options.timeoutMs / 1000} s)`,
        "store-busy",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 50);
  }
}

function tryListen(name: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => {
      server.close();
      if (error.code === "EADDRINUSE") resolve(null);
      else reject(new StorageError(`cannot take the store lock: ${error.message}`));
    });
    server.listen({ path: name }, () => resolve(server));
  });
}
