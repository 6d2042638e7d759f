import { parentPort, workerData } from "node:worker_threads";
import { ReidError } from "../../errors.js";
import { listedDevices } from "../import/device-list.js";
import { type CertifiedKey, loadSigner } from "../issue.js";
import { certify, issueAll } from "./work.js";

/**
 * A certifying thread (pool.ts): the CA key loaded from the directory once, then one answer per
 * message, in order: a request checked and certified, certificates for keys already checked, or
 * the lines of an import's list checked. A
 * refusal travels as its code and message, anything else as a failure.
 */
const signer = await loadSigner((workerData as { directory: string }).directory);
parentPort?.on(
  "message",
  (message: {
    id: number;
    csr?: Uint8Array;
    keys?: CertifiedKey[];
    lines?: string[];
    first?: number;
    crlUrl: string;
    now: number;
  }) => {
    try {
      const now = new Date(message.now);
      if (message.lines) {
        parentPort?.postMessage({
          id: message.id,
          devices: listedDevices(message.lines, message.first ?? 1),
        });
      } else if (message.keys) {
        const certificates = issueAll(signer, message.keys, message.crlUrl, now);
        parentPort?.postMessage({ id: message.id, certificates });
      } else {
        const certified = certify(signer, message.csr ?? new Uint8Array(), message.crlUrl, now);
        parentPort?.postMessage({ id: message.id, certified });
      }
    } catch (error) {
      const refusal =
        error instanceof ReidError
          ? { code: error.code, message: error.message }
          : { code: null, message: String(error) };
      parentPort?.postMessage({ id: message.id, refusal });
    }
  },
);
parentPort?.postMessage({ ready: true });
