import { UsageError } from "../../errors.js";
import { formatTpmSpec, parseTpmSpec, type TpmSpec, tpmName } from "../../tpm/spec.js";
import type { Backend } from "../backend.js";
import { readSecretFile } from "../secret-file.js";

/** TPM2B_AUTH holds at most a SHA-512 digest's worth. */
const MAX_OWNER_AUTH = 64;

/**
 * The TPM backend: the areas are two owner NV indices (nv-area.ts), the generator is
 * TPM2_GetRandom on the same connection (swtpm serves one client at a time), and the connection
 * also serves the factory source `tpm`. The TPM client loads only here, when a store opens.
 */
export const backend: Backend<TpmSpec> = {
  kind: "tpm",
  parse: parseTpmSpec,
  format: formatTpmSpec,
  // The index is what the store's records are found by; the way to the TPM may change (a new
  // swtpm port, /dev/tpm0 instead of /dev/tpmrm0, password sessions for a TPM that cannot do
  // encrypted ones), and the store id tells a wrong TPM.
  samePlace: (a, b) => a.nvIndex === b.nvIndex,
  defaultSource: "tpm+os",
  syntax:
    "swtpm:host=H,port=P | swtpm:path=SOCKET | device:/dev/tpmrm0 [,nv-index=0x...][,sessions=encrypted|password][,owner-auth-file=FILE]",
  anotherPlace: "give this store another index (nv-index=0x... in --tpm)",
  async open(directory, spec, options) {
    const [
      { connectTpm },
      { NvArea },
      { NvCounter },
      { NvPlaces, storeFilePlaces },
      { TpmAuditKeyHome },
      { TpmRandomSource },
      { TpmSealingKeys },
    ] = await Promise.all([
      import("../../tpm/transport/open.js"),
      import("./nv-area.js"),
      import("./nv-counter.js"),
      import("./nv-places.js"),
      import("./audit-key.js"),
      import("./random-source.js"),
      import("./sealing-key.js"),
    ]);
    const ownerAuth = spec.ownerAuthFile ? readOwnerAuth(spec.ownerAuthFile) : undefined;
    try {
      const tpm = await connectTpm(spec.address, undefined, { sessions: spec.sessions });
      try {
        const area = await NvArea.open(tpm, {
          nvIndex: spec.nvIndex,
          write: options.write,
          lockTimeoutMs: options.lockTimeoutMs,
          ...(ownerAuth ? { ownerAuth } : {}),
          ...(options.ownerAuth ? { indexAuth: options.ownerAuth } : {}),
        });
        // The counter's and the audit key's indices are chosen at first need and remembered in
        // store.json (nv-places.ts); the counter is used under the place lock the area holds, the
        // key's index opened (with a lock of its own) when used.
        const keyAuth = Uint8Array.from(ownerAuth ?? []);
        let auditKey: InstanceType<typeof TpmAuditKeyHome> | null = null;
        const places = new NvPlaces(tpm, directory, options.places ?? storeFilePlaces(directory), {
          base: spec.nvIndex,
          write: options.write,
          lockTimeoutMs: options.lockTimeoutMs,
          probeAuditKey: (index) => (auditKey as InstanceType<typeof TpmAuditKeyHome>).probe(index),
        });
        const counter = new NvCounter(tpm, places, directory, ownerAuth);
        auditKey = new TpmAuditKeyHome(tpm, places, {
          ownerAuth: keyAuth,
          directory,
          ...(options.ownerAuth ? { indexAuth: options.ownerAuth } : {}),
          write: options.write,
          lockTimeoutMs: options.lockTimeoutMs,
        });
        const sealingKeys = new TpmSealingKeys(tpm, directory, ownerAuth);
        return {
          area,
          counter,
          auditKey,
          description: `${tpmName(spec.address)}, NV 0x${spec.nvIndex.toString(16).padStart(8, "0")}`,
          randomSource: () => new TpmRandomSource(tpm),
          protectedBy: () => area.protectedBy(),
          tpm,
          sealingKeys,
          close: () => {
            sealingKeys.close();
            counter.close();
            keyAuth.fill(0);
            return tpm.close();
          },
        };
      } catch (error) {
        await tpm.close();
        throw error;
      }
    } finally {
      // The area keeps its own copy.
      ownerAuth?.fill(0);
    }
  },
};

/**
 * The owner hierarchy's password from its file: the raw bytes, less one trailing newline, as
 * `tpm2_changeauth -c o file:...` takes them.
 */
function readOwnerAuth(path: string): Uint8Array {
  const bytes = readSecretFile(path, "TPM owner password file", MAX_OWNER_AUTH + 1);
  const length = bytes.at(-1) === 0x0a ? bytes.length - 1 : bytes.length;
  const ownerAuth = bytes.slice(0, length);
  bytes.fill(0);
  if (ownerAuth.length > MAX_OWNER_AUTH) {
    ownerAuth.fill(0);
    throw new UsageError(
      `TPM owner password file ${path} holds more than ${MAX_OWNER_AUTH} bytes`,
      "bad-key-file",
    );
  }
  return ownerAuth;
}
