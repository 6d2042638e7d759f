import { StorageError } from "../errors.js";

/** flock(2) as fs-ext offers it. */
export type Flock = typeof import("fs-ext").default;

let module: Promise<Flock> | null = null;

/**
 * flock(2), through the native fs-ext module, loaded on the first lock a process takes (every
 * store open takes one, `reid status` included, so it is one small addon and nothing else).
 */
export function loadFlock(): Promise<Flock> {
  module ??= import("fs-ext").then(
    (loaded) => loaded.default,
    (error: unknown) => {
      module = null;
      throw new StorageError(`cannot load flock(2) (the fs-ext module): ${(error as Error).message}`);
    },
  );
  return module;
}

/**
 * Tries to lock the open file `fd` without waiting: exclusive, or shared with other shared holders.
 * Returns false when another open file holds a conflicting lock; throws the OS error otherwise.
 * A flock belongs to the open file (not the process, as fcntl's record locks do), so two opens in
 * one process exclude each other too, and closing this fd is what lets go, the kernel doing it when
 * the process dies however it dies.
 */
export function tryFlock(flock: Flock, fd: number, shared = false): boolean {
  try {
    flock.flockSync(fd, shared ? "shnb" : "exnb");
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EAGAIN" || code === "EWOULDBLOCK") return false;
    throw error;
  }
}
