import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { StorageError, UsageError } from "../../errors.js";
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
  options: NvAreaOptions & { readonly sealer?: Sealer | null; readonly directory?: string },
): Promise<IdentifierStore> {
  const area = await NvArea.open(tpm, options);
  return new DualAreaStore(area, options.sealer ?? null, options.directory ?? area.location);
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
      directory: location,
      ...(options.ownerAuth ? { ownerAuth: options.ownerAuth } : {}),
    });
    // Remembered before the first commit can define anything.
    const spec = formatTpmSpec(options.spec);
    const marker = readTpmMarker(location);
    const committed = marker?.committed ?? false;
    if (options.write && marker?.spec !== spec) writeTpmMarker(location, { spec, committed });
    return { store: rememberingCommits(store, location, spec, committed, releaseAll), tpm };
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
  const remembered = readTpmMarker(location)?.spec;
  if (remembered === undefined) return;
  const before = parseTpmSpec(remembered);
  if (before.nvIndex !== options.spec.nvIndex) {
    throw new UsageError(
      `store ${location} keeps its identifier at NV index 0x${before.nvIndex.toString(16).padStart(8, "0")} (${remembered}): give that index, or another --store`,
      "store-backend",
    );
  }
}

/**
 * The store, which also notes its first commit in the marker, refuses to pass a lost store off as
 * a new one, and whose close() releases what was opened for it.
 */
function rememberingCommits(
  store: IdentifierStore,
  location: string,
  spec: string,
  committedBefore: boolean,
  release: () => Promise<void>,
): IdentifierStore {
  let committed = committedBefore;
  const found = async () => {
    const info = await store.info();
    // Generation 0 is a store that holds no record at all: after a commit, the TPM lost it.
    if (committed && info.generation === 0) {
      throw new StorageError(
        `store ${location} held an identifier in ${store.description}, but the TPM no longer holds either of its NV indices (undefined outside reid: TPM2_Clear or tpm2_nvundefine); the identifier is gone: to start again, remove ${join(location, "tpm")} and run 'reid init'`,
        "store-lost",
      );
    }
    return info;
  };
  return {
    directory: store.directory,
    description: store.description,
    capacity: store.capacity,
    sealingKeyId: store.sealingKeyId,
    info: found,
    load: async (options) => {
      await found();
      return store.load(options);
    },
    commit: async (next) => {
      const stored = await store.commit(next);
      if (!committed) {
        committed = true;
        // Best effort: the record is durable either way; only the loss check would miss it.
        try {
          writeTpmMarker(location, { spec, committed: true });
        } catch {}
      }
      return stored;
    },
    close: async () => {
      try {
        await store.close();
      } finally {
        await release();
      }
    },
  };
}
