import { print, printJson } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { databaseChoice, READ_DATABASE_OPTIONS } from "./database.js";

/**
 * `reid registry serve`: EST and the CRL over HTTPS until SIGINT or SIGTERM (docs/spec.md §10.7);
 * with --db-read, the routes that only read are answered from that replica.
 */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, "listen"],
  operands: [0, 0],
  async run(context, args) {
    const [{ registryDirectory, openServedRegistry }, { registryListen, startRegistryServer }] =
      await Promise.all([import("../../../registry/directory.js"), import("../../../registry/server.js")]);
    const directory = registryDirectory(args.text("dir"));
    const { host, port } = registryListen(args.text("listen"));
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
