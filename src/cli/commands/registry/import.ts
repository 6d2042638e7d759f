import { availableParallelism } from "node:os";
import { UsageError } from "../../../errors.js";
import { IMPORT_BATCH_LIMIT } from "../../../registry/store/store.js";
import { print, printJson } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { DATABASE_OPTIONS, databaseChoice } from "./database.js";
import { progressBar } from "./progress.js";

const DEFAULT_BATCH = 5000;

/**
 * `reid registry import --dir DIR FILE`: a factory's list of devices pre-enrolled by the operator,
 * each listed, to be certified when it first enrolls with its listed key (`--certify`: issued its
 * certificate at once, as an enrollment would be), in batches of one transaction each
 * (docs/spec.md §10.6).
 */
export const action: RegistryAction = {
  options: ["dir", ...DATABASE_OPTIONS, "listen", "batch", "certify"],
  operands: [1, 1],
  async run(context, args) {
    const started = performance.now();
    const [{ registryDirectory, openRegistry }, { registryListen, crlUrlOf }, { readInput }] =
      await Promise.all([
        import("../../../registry/directory.js"),
        import("../../../registry/server.js"),
        import("../../read-input.js"),
      ]);
    const directory = registryDirectory(args.text("dir"));
    const choice = databaseChoice(args);
    const certify = args.flag("certify");
    if (!certify && args.text("listen") !== undefined) {
      throw new UsageError("--listen names the CRL's server in the certificates: it goes with --certify");
    }
    const { host, port } = registryListen(args.text("listen"));
    const batchSize = importBatch(args.text("batch"));
    const file = args.operands[0] as string;
    const [{ readDeviceListOn }, { importDeviceList }, { loadSigner }, { workerCertifier }] =
      await Promise.all([
        import("../../../registry/import/device-list.js"),
        import("../../../registry/import/import.js"),
        import("../../../registry/issue.js"),
        import("../../../registry/certify/pool.js"),
      ]);
    const list = file === "-" ? await readStdin() : readInput(file, "device list");
    const { config, store } = await openRegistry(directory, choice);
    const progress = progressBar(context.stderr, "importing");
    try {
      // One thread per core checks the list's lines (then, --certify, signs): this process's
      // own thread gathers them, and stores each batch while the next is made.
      const certifier = await workerCertifier(directory, await loadSigner(directory), availableParallelism());
      try {
        const devices = await readDeviceListOn(certifier, list);
        const result = await importDeviceList({
          store,
          devices,
          ...(certify ? { certify: { certifier, crlUrl: crlUrlOf(config, host, port) } } : {}),
          batchSize,
          progress: (done, total) => progress.update(done, total),
        });
        progress.end();
        const seconds = (performance.now() - started) / 1000;
        const rate = Math.round(result.imported / seconds);
        const what = certify ? "imported and certified" : "imported (listed)";
        if (context.json)
          printJson(context, { ...result, certified: certify, seconds: Number(seconds.toFixed(3)), rate });
        else
          print(
            context,
            `${what} ${result.imported}, skipped ${result.skipped}, in ${seconds.toFixed(1)} s, ${rate}/s`,
          );
      } finally {
        await certifier.close();
      }
    } finally {
      progress.end();
      await store.close();
    }
  },
};

/** --batch N: devices per transaction, 1 to IMPORT_BATCH_LIMIT. */
function importBatch(text: string | undefined): number {
  if (text === undefined) return DEFAULT_BATCH;
  const value = /^[1-9]\d{0,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= IMPORT_BATCH_LIMIT)) {
    throw new UsageError(`bad --batch '${text}': expected a whole number from 1 to ${IMPORT_BATCH_LIMIT}`);
  }
  return value;
}

/** The list from stdin (`-`), read whole as a file is, within the same bound. */
async function readStdin(): Promise<Uint8Array> {
  const { MAX_INPUT } = await import("../../read-input.js");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INPUT) throw new UsageError(`the device list on stdin has more than ${MAX_INPUT} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
