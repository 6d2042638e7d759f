import { createRequire } from "node:module";
import { StorageError } from "../errors.js";

/** flock(2) as fs-ext offers it. */
export type Flock = typeof import("fs-ext").default;

let module: Flock | null = null;

/**
 * flock(2), through the native fs-ext module, loaded on the first lock a process takes (every
 * store open takes one, `reid status` included). Loaded with require, not import: importing a
 * CommonJS module from ESM first parses it for its exports, which costs `reid status` several
 * times more than the addon itself.
 */
export function loadFlock(): Flock {
  if (module) return module;
  try {
    module = createRequire(import.meta.url)("fs-ext") as Flock;
    return module;
  } catch (error) {
    throw new StorageError(`cannot load flock(2) (the fs-ext module): ${(error as Error).message}`);
  }
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
