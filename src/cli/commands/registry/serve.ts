import { UsageError } from "../../../errors.js";
import { print, printJson } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { databaseChoice, READ_DATABASE_OPTIONS } from "./database.js";

/**
 * `reid registry serve`: EST and the CRL over HTTPS until SIGINT or SIGTERM (docs/spec.md §10.7);
 * with --db-read, the routes that only read are answered from that replica.
 */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, "listen", "certify-threads"],
  operands: [0, 0],
  async run(context, args) {
    const [{ registryDirectory, openServedRegistry }, { registryListen, startRegistryServer }] =
      await Promise.all([import("../../../registry/directory.js"), import("../../../registry/server.js")]);
    const directory = registryDirectory(args.text("dir"));
    const { host, port } = registryListen(args.text("listen"));
    const certifyThreads = certifyThreadCount(args.text("certify-threads"));
    const choice = databaseChoice(args);
    // Listened for before the port answers: a SIGTERM as soon as clients can connect stops it cleanly.
    const stopRequested = new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    const { config, store, reads } = await openServedRegistry(directory, choice);
    try {
      const server = await startRegistryServer({
        directory,
        config,
        store,
        ...(reads ? { reads } : {}),
        host,
        port,
        ...(certifyThreads === undefined ? {} : { certifyThreads }),
        report: (message) => context.stderr.write(`reid: ${message}\n`),
      });
      const served = { url: server.url, caFingerprint: config.caFingerprint, crlUrl: server.crlUrl };
      if (context.json) printJson(context, served);
      else
        print(
          context,
          `reid: registry serving ${server.url} (ca pin ${config.caFingerprint}, crl ${server.crlUrl})`,
        );
      // A log whose history was changed under it ends the server (registry-corrupt, exit 6).
      try {
        await Promise.race([stopRequested, server.failed]);
      } finally {
        await server.close();
      }
    } finally {
      await reads?.close();
      await store.close();
    }
  },
};

/** At most one thread a core of a large machine: more only waits for the serving thread. */
const MAX_CERTIFY_THREADS = 64;

/** --certify-threads: how many threads certify (0: the serving thread itself); absent, the machine decides. */
function certifyThreadCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= MAX_CERTIFY_THREADS)) {
    throw new UsageError(
      `bad --certify-threads '${text}': expected a whole number from 0 to ${MAX_CERTIFY_THREADS}`,
    );
  }
  return value;
}
