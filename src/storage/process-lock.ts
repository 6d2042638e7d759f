import { createHash } from "node:crypto";
import { closeSync, constants, lstatSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { type Flock, loadFlock, tryFlock } from "./flock.js";

export interface ProcessLock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  readonly timeoutMs: number;
  /** What is locked, for the message a waiter gets: "store /path". */
  readonly what: string;
}

/** One try at a lock: the open files that hold it, or null while another process holds it. */
export type LockAttempt = (flock: Flock) => number[] | null;

/**
 * Takes a lock made of flock(2)s on open files: `attempt` tries without waiting; a second holder
 * polls (1 ms doubling to 50 ms) up to the timeout, then fails with a StorageError naming what is
 * busy. Held until released, or until the process dies: the kernel closes its files, SIGKILL
 * included, so a dead holder never leaves a stale lock. The files are opened close-on-exec (as
 * Node opens every file), so no child process can keep the lock alive after its parent.
 */
export async function waitForLock(attempt: LockAttempt, options: LockOptions): Promise<ProcessLock> {
  return holding(await waitFor(attempt, options));
}

/** Retries `attempt` as waitForLock does, and returns what it held, whatever shape that has. */
export async function waitFor<T>(attempt: (flock: Flock) => T | null, options: LockOptions): Promise<T> {
  const flock = loadFlock();
  const deadline = Date.now() + options.timeoutMs;
  let pause = 1;
  for (;;) {
    const held = attempt(flock);
    if (held !== null) return held;
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

function holding(fds: number[]): ProcessLock {
  return {
    release: async () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    },
  };
}

/**
 * One holder per place outside the store directory (a TPM's NV indices, a PKCS#11 token), across
 * this account's processes whatever their network namespace: a flock(2) on `place-HASH.lock` in
 * this account's runtime directory (runtimeDirectory()), HASH the first 40 hex digits of
 * SHA-256(key). The file is never removed, so every holder locks the same one.
 * Specified in docs/spec.md §5.5.
 */
export function acquirePlaceLock(key: string, options: LockOptions): Promise<ProcessLock> {
  const name = `place-${createHash("sha256").update(key).digest("hex").slice(0, 40)}.lock`;
  let path: string | null = null;
  return waitForLock((flock) => {
    path ??= join(runtimeDirectory(), name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      throw new StorageError(`cannot take the lock of ${options.what} (${path}): ${describeOsError(error)}`);
    }
    if (tryFlock(flock, fd)) return [fd];
    closeSync(fd);
    return null;
  }, options);
}

/**
 * This account's directory for its place locks: `$XDG_RUNTIME_DIR/reid` when that is set, else
 * `/run/reid` for root, else `TMPDIR/reid-UID`. Made 0700 if missing; one that is not a directory of
 * this account's, closed to others, is refused, so no other account can hold (or squat) a lock in it.
 */
export function runtimeDirectory(): string {
  const uid = process.getuid?.() ?? 0;
  const base = process.env.XDG_RUNTIME_DIR;
  const dir =
    base?.startsWith("/") === true
      ? join(base, "reid")
      : uid === 0
        ? "/run/reid"
        : join(tmpdir(), `reid-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stats = lstatSync(dir);
    if (stats.isDirectory() && stats.uid === uid && (stats.mode & 0o077) === 0) return dir;
  } catch (error) {
    throw new StorageError(`cannot make the lock directory ${dir}: ${describeOsError(error)}`);
  }
  throw new StorageError(`the lock directory ${dir} is not this account's own 0700 directory: remove it`);
}
