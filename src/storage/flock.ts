import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { StorageError } from "../errors.js";

/** flock(2) as reid uses it: without waiting, exclusive or shared; throws the OS error (EAGAIN when held). */
export interface Flock {
  flockSync(fd: number, flags: "exnb" | "shnb"): void;
}

/** What fs-ext's addon itself exports (its JavaScript wrapper only maps flag names onto these). */
interface FsExtAddon {
  flock(fd: number, operation: number): void;
  readonly constants: { readonly LOCK_SH: number; readonly LOCK_EX: number; readonly LOCK_NB: number };
}

/** Where npm puts fs-ext's addon, below a node_modules directory (fs-ext 2.1.1, pinned). */
const ADDON = join("node_modules", "fs-ext", "build", "Release", "fs_ext.node");

let module: Flock | null = null;

/**
 * flock(2), through the native fs-ext module, loaded on the first lock a process takes (every
 * store open takes one, `reid status` included). Its addon is loaded directly, found the way Node
 * finds a package (the nearest node_modules up from here): a require of fs-ext, even from ESM
 * through createRequire, first sets up the CommonJS loader, which costs `reid status` about ten
 * times what the addon's dlopen does. Anywhere else (NODE_PATH, another layout) fs-ext is required.
 */
export function loadFlock(): Flock {
  if (module) return module;
  try {
    module = loadAddon() ?? (createRequire(import.meta.url)("fs-ext") as Flock);
    return module;
  } catch (error) {
    throw new StorageError(`cannot load flock(2) (the fs-ext module): ${(error as Error).message}`);
  }
}

function loadAddon(): Flock | null {
  // Node sets it from 20.11 on (package.json "engines"); without it, fs-ext is required.
  const here: unknown = import.meta.dirname;
  const path = typeof here === "string" ? findAddon(here) : null;
  if (path === null) return null;
  const loaded = { exports: {} as FsExtAddon };
  process.dlopen(loaded, path);
  const { flock, constants } = loaded.exports;
  const operations = {
    exnb: constants.LOCK_EX | constants.LOCK_NB,
    shnb: constants.LOCK_SH | constants.LOCK_NB,
  };
  return { flockSync: (fd, flags) => flock(fd, operations[flags]) };
}

function findAddon(from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const path = join(dir, ADDON);
    if (existsSync(path)) return path;
    if (dirname(dir) === dir) return null;
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
