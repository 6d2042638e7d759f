// Every storage backend the IdentifierStore conformance suite runs against, one line each. Every
// fixture is the same: a fresh store directory on a StoreSpec, opened through the one opener
// (storage/open.ts), with raw access through the backend's own areas. A new backend adds its lines
// here (and its folder and registry line in src/storage/), nothing else.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { OpenedBackend } from "../../src/storage/backend.js";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import { type OpenedStore, openStore } from "../../src/storage/open.js";
import { AesGcmSealer, KEK_LENGTH, type Sealer } from "../../src/storage/sealer.js";
import { newStoreId, writeStoreFile } from "../../src/storage/store-file.js";
import { defaultStoreSpec, givenStoreSpec, type StoreSpec, specText } from "../../src/storage/store-spec.js";
import { type SoftHsm, type SoftHsmToken, softhsmForFile } from "../helpers/softhsm.js";
import { type Swtpm, swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import type { StoreBackend, StoreFixture } from "./conformance.js";

/** A fresh key-encryption key's sealer (the key itself is wiped at once). */
function newSealer(): Sealer {
  const kek = randomBytes(KEK_LENGTH);
  const sealer = new AesGcmSealer(kek);
  kek.fill(0);
  return sealer;
}

export interface BackendFixture extends StoreFixture {
  readonly spec: StoreSpec;
  /**
   * Runs `task` on the backend itself, bypassing the store: the open store's backend when one of
   * this fixture is open (swtpm serves one client at a time, and a place has one writer), else the
   * backend opened alone for the task.
   */
  withBackend<T>(task: (backend: OpenedBackend) => Promise<T>): Promise<T>;
}

/** A store in a fresh directory on `spec`; with `sealer`, every open seals with the same key. */
export function backendFixture(
  t: TestContext,
  spec: StoreSpec,
  sealer: Sealer | null = null,
): BackendFixture {
  const { dir, store } = tempDir(t);
  const open = new Set<OpenedStore>();
  const opener = async (directory: string, lockTimeoutMs = 5000, claim = false): Promise<IdentifierStore> => {
    const opened = await openStore(directory, spec.given ? spec : null, {
      write: true,
      lockTimeoutMs,
      claim,
      sealer,
    });
    open.add(opened);
    return {
      ...opened.store,
      close: async () => {
        open.delete(opened);
        await opened.store.close();
      },
    };
  };
  const withBackend = async <T>(task: (backend: OpenedBackend) => Promise<T>, directory = store) => {
    const live = [...open].find((opened) => opened.store.directory === directory)?.backend;
    if (live) return task(live);
    const backend = await spec.backend.open(directory, spec.spec, {
      write: true,
      lockTimeoutMs: 5000,
      env: process.env,
    });
    try {
      return await task(backend);
    } finally {
      await backend.area.close();
      await backend.close();
    }
  };
  const raw = () =>
    withBackend(async ({ area }) =>
      (await area.provisioned()) ? [await area.read(0), await area.read(1)] : [new Uint8Array(0)],
    );
  /** Writes both areas' bytes, provisioning the areas first if there are none. */
  const put = (bytes: readonly [Uint8Array, Uint8Array], directory = store) =>
    withBackend(async ({ area }) => {
      if (!(await area.provisioned())) return area.provision(bytes);
      await area.write(0, bytes[0]);
      await area.write(1, bytes[1]);
    }, directory);
  const areas = async (): Promise<[Uint8Array, Uint8Array]> => {
    const [a0 = new Uint8Array(0), a1 = new Uint8Array(0)] = await raw();
    return [a0.length > 0 ? a0 : new Uint8Array(256), a1.length > 0 ? a1 : new Uint8Array(256)];
  };
  let others = 0;
  return {
    directory: store,
    spec,
    withBackend,
    open: (options) => opener(store, options?.lockTimeoutMs),
    raw,
    area: async (index) => (await areas())[index],
    damage: async (index, bytes) => {
      const both = await areas();
      both[index] = bytes;
      await put(both);
    },
    // Another store directory (a store.json of its own) naming the same place (the same TPM index,
    // the same token's objects); a backend whose place is the directory itself (files) gets a copy
    // of this store's areas there.
    openElsewhere: async (options) => {
      const other = join(dir, `other-${others++}`);
      const copy = await areas();
      writeStoreFile(other, { id: newStoreId(), backend: spec.kind, spec: specText(spec), committed: true });
      await put(copy, other);
      return opener(other, 5000, options?.claim ?? false);
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

/** The TPM backend on this file's swtpm, at a fresh NV index pair. */
export async function tpmSpec(): Promise<StoreSpec> {
  const nvIndex = nextIndex;
  nextIndex += 4;
  const { spec } = await swtpmOfFile();
  return givenStoreSpec("tpm", `${spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`);
}

// One SoftHSM2 for the test file that uses PKCS#11 fixtures (its own SOFTHSM2_CONF), made on
// first use; each fixture takes a fresh token of its own.
const softhsmOfFile = softhsmForFile();

/** The SoftHSM2 the PKCS#11 fixtures of this test file run on. */
export function storesSoftHsm(): Promise<SoftHsm> {
  return softhsmOfFile();
}

/** The PKCS#11 backend on `token` (with its pin-file=), else on a fresh token of this file's SoftHSM2. */
export async function pkcs11Spec(token?: SoftHsmToken): Promise<StoreSpec> {
  return givenStoreSpec("pkcs11", (token ?? (await (await softhsmOfFile()).token())).spec);
}

/** The backends the IdentifierStore conformance suite runs against. */
export const STORE_BACKENDS: readonly StoreBackend[] = [
  { name: "file", fixture: async (t) => backendFixture(t, await defaultStoreSpec()) },
  {
    name: "file, sealed",
    sealed: true,
    fixture: async (t) => backendFixture(t, await defaultStoreSpec(), newSealer()),
  },
  { name: "TPM NV (swtpm)", fixture: async (t) => backendFixture(t, await tpmSpec()) },
  {
    name: "TPM NV (swtpm), sealed",
    sealed: true,
    fixture: async (t) => backendFixture(t, await tpmSpec(), newSealer()),
  },
  { name: "PKCS#11 data objects (SoftHSM2)", fixture: async (t) => backendFixture(t, await pkcs11Spec()) },
  {
    name: "PKCS#11 data objects (SoftHSM2), sealed",
    sealed: true,
    fixture: async (t) => backendFixture(t, await pkcs11Spec(), newSealer()),
  },
];
