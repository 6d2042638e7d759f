import { parentPort, workerData } from "node:worker_threads";
import { ReidError } from "../../errors.js";
import { loadSigner } from "../issue.js";
import { certify } from "./work.js";

/**
 * The certifier's thread (pool.ts): the CA key loaded from the directory once, then one answer per
 * request, in order. A refusal travels as its code and message, anything else as a failure.
 */
const signer = await loadSigner((workerData as { directory: string }).directory);
parentPort?.on("message", (message: { id: number; csr: Uint8Array; crlUrl: string; now: number }) => {
  try {
    const certified = certify(signer, message.csr, message.crlUrl, new Date(message.now));
    parentPort?.postMessage({ id: message.id, certified });
  } catch (error) {
    const refusal =
      error instanceof ReidError
        ? { code: error.code, message: error.message }
        : { code: null, message: String(error) };
    parentPort?.postMessage({ id: message.id, refusal });
  }
});
parentPort?.postMessage({ ready: true });
