import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { UsageError } from "../../errors.js";
import { badRequest, handleMismatch } from "../csr.js";
import { type ListedDevice, listedDevices } from "../import/device-list.js";
import type { Signer } from "../issue.js";
import { registryFailure } from "../registry-errors.js";
import type { NewCertificate } from "../store/store.js";
import type { Certified, Certifier } from "./certifier.js";
import { certify, issueAll } from "./work.js";

/** On this thread: for a process with no second core to give, or no worker file beside it. */
export function threadCertifier(signer: Signer): Certifier {
  return {
    certify: async (csr, options) => certify(signer, csr, options.crlUrl, options.now),
    issue: async (keys, options) => issueAll(signer, keys, options.crlUrl, options.now),
    listed: async (lines, first) => listedDevices(lines, first),
    close: async () => {},
  };
}

interface Answer {
  readonly id: number;
  readonly certified?: Certified;
  readonly certificates?: NewCertificate[];
  readonly devices?: ListedDevice[];
  readonly refusal?: { code: string | null; message: string };
}

interface Waiting {
  /** How many certificates it asks for: what a thread has to do before it is free. */
  readonly load: number;
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * How many threads of its own `registry serve` certifies on by default: one when the machine has
 * a core to give it, none (its serving thread) on two cores or fewer, where the database, the
 * clients and the serving thread already take them all and a thread of its own only adds the
 * messages to it and back: about a fifth more CPU an enrollment on two cores.
 */
export function certifyThreads(): number {
  return availableParallelism() > 2 ? 1 : 0;
}

/**
 * On worker threads of their own (`threads` of them; `registry serve` takes certifyThreads(), an
 * import one per core), when reid runs from its bundle (dist/chunks/registry-certifier.js); with
 * `threads` 0, or from the checkout's sources, it certifies on the calling thread. Each call goes
 * to the thread with the least work waiting. A thread that stops refuses what waits on it, and the
 * pool every later call.
 */
export async function workerCertifier(directory: string, signer: Signer, threads = 1): Promise<Certifier> {
  const script = bundledWorker();
  if (script === null || threads < 1) return threadCertifier(signer);
  const starting = await Promise.allSettled(
    Array.from({ length: threads }, () => started(script, directory)),
  );
  const workers = starting.flatMap((start) => (start.status === "fulfilled" ? [start.value] : []));
  const failed = starting.find((start) => start.status === "rejected");
  if (failed) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw failed.reason;
  }
  const pending = workers.map(() => new Map<number, Waiting>());
  let next = 0;
  let gone: unknown = null;
  const fail = (error: unknown) => {
    gone ??= registryFailure(`a certifying thread stopped: ${String((error as Error)?.message ?? error)}`);
    for (const waiting of pending) {
      for (const { reject } of waiting.values()) reject(gone);
      waiting.clear();
    }
  };
  for (const [index, worker] of workers.entries()) {
    const waiting = pending[index] as Map<number, Waiting>;
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit ${code}`)));
    worker.on("message", (answer: Answer) => {
      const asked = waiting.get(answer.id);
      if (!asked) return;
      waiting.delete(answer.id);
      // Idle, the thread does not hold the process open; with work waiting it does (see ask).
      if (waiting.size === 0) worker.unref();
      asked.resolve(answer);
    });
    worker.unref();
  }
  /** Sends `message` to the least busy thread; its answer, or its refusal as reid's error. */
  const ask = (load: number, message: object): Promise<Answer> => {
    if (gone) return Promise.reject(gone);
    const loads = pending.map((waiting) => [...waiting.values()].reduce((sum, asked) => sum + asked.load, 0));
    const index = loads.indexOf(Math.min(...loads));
    const id = next++;
    return new Promise<Answer>((resolve, reject) => {
      (pending[index] as Map<number, Waiting>).set(id, { load, resolve, reject });
      (workers[index] as Worker).ref();
      (workers[index] as Worker).postMessage({ id, ...message });
    }).then((answer) => {
      if (!answer.refusal) return answer;
      const { code, message: text } = answer.refusal;
      if (code === "bad-device-list") throw new UsageError(text, "bad-device-list");
      throw code === "bad-csr"
        ? badRequest(text)
        : code === "handle-mismatch"
          ? handleMismatch(text)
          : new Error(text);
    });
  };
  return {
    async certify(csr, options) {
      const answer = await ask(1, { csr, crlUrl: options.crlUrl, now: options.now.getTime() });
      return answer.certified as Certified;
    },
    async issue(keys, options) {
      const answer = await ask(keys.length, { keys, crlUrl: options.crlUrl, now: options.now.getTime() });
      return answer.certificates as NewCertificate[];
    },
    async listed(lines, first) {
      // Checking a line costs about a quarter of signing a certificate.
      const answer = await ask(Math.ceil(lines.length / 4), { lines, first, crlUrl: "", now: 0 });
      return answer.devices as ListedDevice[];
    },
    async close() {
      for (const worker of workers) worker.removeAllListeners("exit");
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/** A thread that has loaded the CA key and says it is ready. */
async function started(script: string, directory: string): Promise<Worker> {
  const worker = new Worker(script, { workerData: { directory } });
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return worker;
}

/** dist/chunks/registry-certifier.js (or dist/registry-certifier.js), seen from this module in dist/ or dist/chunks/. */
function bundledWorker(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  return (
    [join(here, "registry-certifier.js"), join(dirname(here), "registry-certifier.js")].find((path) =>
      existsSync(path),
    ) ?? null
  );
}
