// Every entropy source the EntropySource conformance suite runs against, one entry each: the OS
// generator, a device, and each storage backend's generator alone and mixed with the OS (opened
// through the backend, as the element opens it). A new backend with a generator adds its lines here.
import type { TestContext } from "node:test";
import { DeviceSource } from "../../src/entropy/device-source.js";
import { OsMixedSource } from "../../src/entropy/os-mixed-source.js";
import { OsSource } from "../../src/entropy/os-source.js";
import type { EntropySource } from "../../src/entropy/source.js";
import type { OpenedBackend } from "../../src/storage/backend.js";
import { givenStoreSpec } from "../../src/storage/store-spec.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import type { SourceBackend } from "./source-conformance.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524c00;

/** The TPM backend on this file's swtpm, opened for its generator; closed when the test ends. */
async function tpmBackend(t: TestContext): Promise<OpenedBackend> {
  const nvIndex = nextIndex;
  nextIndex += 2;
  const spec = await givenStoreSpec("tpm", `${(await swtpm()).spec},nv-index=0x${nvIndex.toString(16)}`);
  const opened = await spec.backend.open(tempDir(t).store, spec.spec, {
    write: false,
    lockTimeoutMs: 5000,
    env: {},
  });
  t.after(async () => {
    await opened.area.close();
    await opened.close();
  });
  return opened;
}

/** A backend's generator (alone, or mixed with the OS): breaking it closes the backend's connection. */
function generatorOf(
  name: string,
  open: (t: TestContext) => Promise<OpenedBackend>,
  mixOs: boolean,
): SourceBackend {
  const backends = new WeakMap<EntropySource, OpenedBackend>();
  return {
    name,
    open: async (t) => {
      const backend = await open(t);
      const generator = backend.randomSource?.();
      if (!generator) throw new Error(`${name}: the backend has no generator`);
      const source = mixOs ? new OsMixedSource(generator) : generator;
      backends.set(source, backend);
      return source;
    },
    breakIt: async (source) => backends.get(source)?.close(),
  };
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
  generatorOf("tpm (swtpm)", tpmBackend, false),
  generatorOf("tpm+os (swtpm)", tpmBackend, true),
];
