// Every storage backend the IdentifierStore conformance suite runs against, one entry each. A new
// backend adds its fixtures here (and its folder and registry line in src/storage/), nothing else.
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import { type OpenedStore, openStore } from "../../src/storage/open.js";
import { AesGcmSealer, KEK_LENGTH, type Sealer } from "../../src/storage/sealer.js";
import { newStoreId, writeStoreFile } from "../../src/storage/store-file.js";
import { givenStoreSpec, type StoreSpec } from "../../src/storage/store-spec.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { type Swtpm, swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import { readIndex, writeIndex } from "../helpers/tpm-nv.js";
import type { StoreBackend, StoreFixture } from "./conformance.js";

/** A fresh key-encryption key's sealer (the key itself is wiped at once). */
function newSealer(): Sealer {
  const kek = randomBytes(KEK_LENGTH);
  const sealer = new AesGcmSealer(kek);
  kek.fill(0);
  return sealer;
}

/** Opens `directory` on `spec` through the one opener; `opened` learns of it until it closes. */
async function opener(
  directory: string,
  spec: StoreSpec | null,
  sealer: Sealer | null,
  lockTimeoutMs: number,
  opened?: Set<OpenedStore>,
): Promise<IdentifierStore> {
  const store = await openStore(directory, spec, { write: true, lockTimeoutMs, sealer });
  opened?.add(store);
  return {
    ...store.store,
    close: async () => {
      opened?.delete(store);
      await store.store.close();
    },
  };
}

/** A file store in a fresh directory; with `sealer`, every open seals with the same key. */
export function fileFixture(t: TestContext, sealer: Sealer | null = null): StoreFixture {
  const { dir, store } = tempDir(t);
  const areaPath = (root: string, index: 0 | 1) => join(root, `area-${index}`);
  const read = (index: 0 | 1) => {
    try {
      return new Uint8Array(readFileSync(areaPath(store, index)));
    } catch {
      return new Uint8Array(0);
    }
  };
  let copies = 0;
  return {
    directory: store,
    open: (options) => opener(store, null, sealer, options?.lockTimeoutMs ?? 5000),
    raw: async () => [read(0), read(1)],
    area: async (index) => read(index),
    damage: async (index, bytes) => {
      mkdirSync(store, { recursive: true, mode: 0o700 });
      writeFileSync(areaPath(store, index), bytes, { mode: 0o600 });
    },
    // Another store's directory (its own store.json) into which this one's area files were copied.
    openElsewhere: async () => {
      const other = join(dir, `copy-${copies++}`);
      writeStoreFile(other, { id: newStoreId(), backend: "files", spec: "", committed: true });
      for (const index of [0, 1] as const) cpSync(areaPath(store, index), areaPath(other, index));
      return opener(other, null, sealer, 5000);
    },
  };
}

// One swtpm for the test file that uses TPM fixtures, started on first use; each fixture takes its
// own pair of NV indices.
const swtpmOfFile = swtpmForFile();
let nextIndex = 0x01524600;

/** The swtpm the TPM fixtures of this test file run on. */
export function storesSwtpm(): Promise<Swtpm> {
  return swtpmOfFile();
}

export interface TpmFixture extends StoreFixture {
  readonly nvIndex: number;
  /**
   * Runs `task` on a connection to the fixture's swtpm, which serves one client at a time: the
   * connection of a store of this fixture that is open, else one of its own for the task.
   */
  withTpm<T>(task: (tpm: Tpm) => Promise<T>): Promise<T>;
}

/** A TPM store (swtpm) in a fresh directory, at a fresh NV index pair. */
export async function tpmFixture(t: TestContext, sealer: Sealer | null = null): Promise<TpmFixture> {
  const swtpm = await swtpmOfFile();
  const nvIndex = nextIndex;
  nextIndex += 2;
  const spec = await givenStoreSpec(
    "tpm",
    `${swtpm.spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`,
  );
  const { dir, store } = tempDir(t);
  const open = new Set<OpenedStore>();
  const withTpm = async <T>(task: (tpm: Tpm) => Promise<T>): Promise<T> => {
    const shared = [...open][0]?.backend.tpm;
    if (shared) return task(shared);
    const tpm = await connectTpm(swtpm.address);
    try {
      return await task(tpm);
    } finally {
      await tpm.close();
    }
  };
  let others = 0;
  return {
    directory: store,
    nvIndex,
    withTpm,
    open: (options) => opener(store, spec, sealer, options?.lockTimeoutMs ?? 5000, open),
    raw: () => withTpm(async (tpm) => [await readIndex(tpm, nvIndex), await readIndex(tpm, nvIndex + 1)]),
    area: (index) => withTpm((tpm) => readIndex(tpm, nvIndex + index)),
    damage: (index, bytes) => withTpm((tpm) => writeIndex(tpm, nvIndex + index, bytes)),
    // Another store directory naming the same TPM and index.
    openElsewhere: () => opener(join(dir, `other-${others++}`), spec, sealer, 5000, open),
  };
}

/** The backends the IdentifierStore conformance suite runs against. */
export const STORE_BACKENDS: readonly StoreBackend[] = [
  { name: "file", fixture: async (t) => fileFixture(t) },
  { name: "file, sealed", sealed: true, fixture: async (t) => fileFixture(t, newSealer()) },
  { name: "TPM NV (swtpm)", fixture: (t) => tpmFixture(t) },
  { name: "TPM NV (swtpm), sealed", sealed: true, fixture: (t) => tpmFixture(t, newSealer()) },
];
