// Every entropy source the EntropySource conformance suite runs against, one line each: the OS
// generator, a device, and each storage backend's generator, alone and mixed with the OS (opened
// through the backend, as the element opens it). A backend with a generator adds its line here.
import type { TestContext } from "node:test";
import { DeviceSource } from "../../src/entropy/device-source.js";
import { OsMixedSource } from "../../src/entropy/os-mixed-source.js";
import { OsSource } from "../../src/entropy/os-source.js";
import type { EntropySource } from "../../src/entropy/source.js";
import type { OpenedBackend } from "../../src/storage/backend.js";
import { givenStoreSpec, type StoreSpec } from "../../src/storage/store-spec.js";
import { softhsmForFile } from "../helpers/softhsm.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import type { SourceBackend } from "./source-conformance.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524c00;

/** The TPM backend on this file's swtpm, at a fresh NV index pair. */
async function tpmSpec(): Promise<StoreSpec> {
  const nvIndex = nextIndex;
  nextIndex += 4;
  return givenStoreSpec("tpm", `${(await swtpm()).spec},nv-index=0x${nvIndex.toString(16)}`);
}

const softhsm = softhsmForFile();

/** The PKCS#11 backend on a fresh token of this file's SoftHSM2. */
async function pkcs11Spec(): Promise<StoreSpec> {
  return givenStoreSpec("pkcs11", (await (await softhsm()).token()).spec);
}

/**
 * The generator of the backend `spec` names (`kind`), alone and mixed with the OS generator; each
 * test opens the backend (closed when the test ends), and breaking the source closes its connection.
 */
function generators(kind: string, where: string, spec: () => Promise<StoreSpec>): SourceBackend[] {
  return [false, true].map((mixOs) => {
    const backends = new WeakMap<EntropySource, OpenedBackend>();
    return {
      name: `${kind}${mixOs ? "+os" : ""} (${where})`,
      open: async (t: TestContext) => {
        const { backend, spec: parsed } = await spec();
        const opened = await backend.open(tempDir(t).store, parsed, {
          write: false,
          lockTimeoutMs: 5000,
          env: {},
        });
        t.after(async () => {
          await opened.area.close();
          await opened.close();
        });
        const generator = opened.randomSource?.();
        if (!generator) throw new Error(`the ${kind} backend has no generator`);
        const source = mixOs ? new OsMixedSource(generator) : generator;
        backends.set(source, opened);
        return source;
      },
      breakIt: async (source: EntropySource) => backends.get(source)?.close(),
    };
  });
}

export const SOURCE_BACKENDS: readonly SourceBackend[] = [
  { name: "os", open: async () => new OsSource() },
  {
    name: "device:/dev/urandom",
    open: async (t) => {
      const source = new DeviceSource("/dev/urandom", 4);
      t.after(() => source.close());
      return source;
    },
  },
  ...generators("tpm", "swtpm", tpmSpec),
  ...generators("pkcs11", "SoftHSM2", pkcs11Spec),
];
