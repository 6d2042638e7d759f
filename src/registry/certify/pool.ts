import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { badRequest, handleMismatch } from "../csr.js";
import type { Signer } from "../issue.js";
import { registryFailure } from "../registry-errors.js";
import type { Certified, Certifier } from "./certifier.js";
import { certify } from "./work.js";

/** On this thread: for a process with no second core to give, or no worker file beside it. */
export function threadCertifier(signer: Signer): Certifier {
  return {
    certify: async (csr, options) => certify(signer, csr, options.crlUrl, options.now),
    close: async () => {},
  };
}

/**
 * On a worker thread of its own, when reid runs from its bundle (dist/registry-certifier.js);
 * from the checkout's sources it certifies on the calling thread.
 */
export async function workerCertifier(directory: string, signer: Signer): Promise<Certifier> {
  const script = bundledWorker();
  if (script === null) return threadCertifier(signer);
  const worker = new Worker(script, { workerData: { directory } });
  const pending = new Map<number, { resolve: (c: Certified) => void; reject: (e: unknown) => void }>();
  let next = 0;
  let gone: unknown = null;
  const fail = (error: unknown) => {
    gone = registryFailure(`the certifying thread stopped: ${String((error as Error)?.message ?? error)}`);
    for (const { reject } of pending.values()) reject(gone);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`exit ${code}`)));
  worker.on(
    "message",
    (message: { id: number; certified?: Certified; refusal?: { code: string | null; message: string } }) => {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (message.certified) return waiting.resolve(message.certified);
      const { code, message: text } = message.refusal ?? { code: null, message: "no answer" };
      waiting.reject(
        code === "bad-csr"
          ? badRequest(text)
          : code === "handle-mismatch"
            ? handleMismatch(text)
            : new Error(text),
      );
    },
  );
  worker.unref();
  return {
    certify(csr, options) {
      if (gone) return Promise.reject(gone);
      const id = next++;
      return new Promise<Certified>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, csr, crlUrl: options.crlUrl, now: options.now.getTime() });
      });
    },
    async close() {
      worker.removeAllListeners("exit");
      await worker.terminate();
    },
  };
}

/** dist/registry-certifier.js, seen from this module in dist/ or dist/chunks/. */
function bundledWorker(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  return (
    [join(here, "registry-certifier.js"), join(dirname(here), "registry-certifier.js")].find((path) =>
      existsSync(path),
    ) ?? null
  );
}
