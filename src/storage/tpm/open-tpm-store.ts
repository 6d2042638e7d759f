import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { formatTpmSpec, parseTpmSpec, type TpmSpec } from "../../tpm/spec.js";
import type { Tpm } from "../../tpm/tpm.js";
import { connectTpm } from "../../tpm/transport/open.js";
import { DualAreaStore } from "../dual-area-store.js";
import type { IdentifierStore } from "../identifier-store.js";
import type { Sealer } from "../sealer.js";
import { checkStoreDirectory, lockStoreDirectory } from "../store-directory.js";
import { readTpmMarker, writeTpmMarker } from "./marker.js";
import { NvArea, type NvAreaOptions } from "./nv-area.js";

/** The TPM backend on a connection the caller owns: two NV indices, optionally sealed. */
export async function openTpmStore(
  tpm: Tpm,
  options: NvAreaOptions & { readonly sealer?: Sealer | null },
): Promise<IdentifierStore> {
  return new DualAreaStore(await NvArea.open(tpm, options), options.sealer ?? null);
}

export interface TpmStoreOptions {
  readonly spec: TpmSpec;
  readonly ownerAuth?: Uint8Array;
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  readonly sealer?: Sealer | null;
}

/**
 * A store directory whose identifier lives in a TPM: the directory is locked as for files (its
 * audit log, PIN and schedule stay there), remembers its TPM and index, and refuses to mix
 * backends. The TPM connection is opened only once the lock is held (swtpm serves one client at a
 * time: a second one would hang rather than be told the store is busy). Closing the store closes
 * the connection, which the caller may share (the entropy source) until then.
 */
export async function openTpmStoreAt(
  directory: string,
  options: TpmStoreOptions,
): Promise<{ store: IdentifierStore; tpm: Tpm }> {
  const location = resolve(directory);
  const lock = await lockStoreDirectory(location, options.lockTimeoutMs);
  const held: { release(): Promise<void> }[] = [lock];
  const releaseAll = async () => {
    for (const item of held.reverse()) await item.release();
  };
  try {
    checkStoreDirectory(location);
    checkBackend(location, options);
    const tpm = await connectTpm(options.spec.address);
    held.push({ release: () => tpm.close() });
    const store = await openTpmStore(tpm, {
      nvIndex: options.spec.nvIndex,
      write: options.write,
      lockTimeoutMs: options.lockTimeoutMs,
      sealer: options.sealer ?? null,
      ...(options.ownerAuth ? { ownerAuth: options.ownerAuth } : {}),
    });
    // Remembered before the first commit can define anything.
    const text = formatTpmSpec(options.spec);
    if (options.write && readTpmMarker(location) !== text) writeTpmMarker(location, text);
    return { store: closingWith(store, releaseAll), tpm };
  } catch (error) {
    await releaseAll();
    throw error;
  }
}

function checkBackend(location: string, options: TpmStoreOptions): void {
  if (existsSync(join(location, "area-0")) || existsSync(join(location, "area-1"))) {
    throw new UsageError(
      `store ${location} keeps its identifier in files, not in a TPM: use another --store for the TPM backend`,
      "store-backend",
    );
  }
  const remembered = readTpmMarker(location);
  if (remembered === null) return;
  const before = parseTpmSpec(remembered);
  if (before.nvIndex !== options.spec.nvIndex) {
    throw new UsageError(
      `store ${location} keeps its identifier at NV index 0x${before.nvIndex.toString(16).padStart(8, "0")} (${remembered}): give that index, or another --store`,
      "store-backend",
    );
  }
}

/** The store, whose close() also releases what was opened for it. */
function closingWith(store: IdentifierStore, release: () => Promise<void>): IdentifierStore {
  return {
    get location() {
      return store.location;
    },
    capacity: store.capacity,
    sealingKeyId: store.sealingKeyId,
    info: () => store.info(),
    load: (options) => store.load(options),
    commit: (next) => store.commit(next),
    close: async () => {
      try {
        await store.close();
      } finally {
        await release();
      }
    },
  };
}
