import { realpathSync } from "node:fs";
import type { PKCS11 } from "pkcs11js";
import { describeOsError, StorageError } from "../errors.js";
import { describePkcs11Error, firstLine, isReturnValue } from "./errors.js";

/** A PKCS#11 module loaded and initialized in this process, shared by everyone who asked for it. */
export interface LoadedModule {
  /** The path as given (for messages). */
  readonly path: string;
  /** The path with every link resolved: what identifies the module. */
  readonly realPath: string;
  readonly api: PKCS11;
  /** Gives this user's hold back; the last one finalizes the module. */
  release(): void;
}

interface Initialized {
  readonly api: PKCS11;
  /** Whether we initialized it, and so finalize it. */
  readonly finalize: boolean;
}

interface Entry {
  readonly ready: Promise<Initialized>;
  users: number;
}

/**
 * One C_Initialize per module per process: a module is a process-wide library (dlopen hands a
 * second loader the same copy, whose C_Initialize then fails), and C_Finalize ends every session
 * in it. So holders share one entry and the last release finalizes. A module initialized anew
 * sees tokens created since (SoftHSM2 reads its token directory at C_Initialize).
 */
const modules = new Map<string, Entry>();

export async function loadModule(path: string): Promise<LoadedModule> {
  const realPath = resolveModule(path);
  let entry = modules.get(realPath);
  if (!entry) {
    entry = { ready: initialize(path, realPath), users: 0 };
    modules.set(realPath, entry);
    const failed = entry;
    failed.ready.catch(() => {
      if (modules.get(realPath) === failed) modules.delete(realPath);
    });
  }
  entry.users++;
  let initialized: Initialized;
  try {
    initialized = await entry.ready;
  } catch (error) {
    entry.users--;
    throw error;
  }
  const held = entry;
  let released = false;
  return {
    path,
    realPath,
    api: initialized.api,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
      if (held.users > 0 || modules.get(realPath) !== held) return;
      // At once, before anyone can load the module again and find it still initialized.
      modules.delete(realPath);
      finalize(initialized);
    },
  };
}

function resolveModule(path: string): string {
  try {
    return realpathSync(path);
  } catch (error) {
    throw moduleMissing(path, describeOsError(error));
  }
}

async function initialize(path: string, realPath: string): Promise<Initialized> {
  // The native binding loads here, and only here: nothing else in reid imports it.
  const { default: pkcs11js } = await import("pkcs11js");
  const api = new pkcs11js.PKCS11();
  try {
    api.load(realPath);
  } catch (error) {
    throw moduleMissing(path, firstLine(error instanceof Error ? error.message : String(error)));
  }
  try {
    api.C_Initialize();
    return { api, finalize: true };
  } catch (error) {
    // Initialized by other code in this process: use it, and leave finalizing to that code.
    if (isReturnValue(error, "CKR_CRYPTOKI_ALREADY_INITIALIZED")) return { api, finalize: false };
    closeQuietly(api);
    throw describePkcs11Error(error, `PKCS#11 module ${path}`);
  }
}

function finalize({ api, finalize }: Initialized): void {
  if (finalize) {
    try {
      api.C_Finalize();
    } catch {}
  }
  closeQuietly(api);
}

function closeQuietly(api: PKCS11): void {
  try {
    api.close();
  } catch {}
}

function moduleMissing(path: string, why: string): StorageError {
  return new StorageError(
    `cannot load the PKCS#11 module ${path}: ${why}; install it (SoftHSM2: apt-get install softhsm2) or give module= the path of your token's module`,
    "pkcs11-module-missing",
  );
}
