import type { ElementTpm } from "../../element/element.js";
import { type Command, print } from "../context.js";
import { elementTpm } from "../element-tpm.js";
import { readKeyFile } from "../key-file.js";

export const command: Command = {
  usage: "reid [--store DIR] [--tpm SPEC] [--source SPEC] [--kek-file FILE] serve [--web HOST:PORT]",
  summary:
    "Runs the secure element daemon: it alone holds the store and serves its API on a 0600 Unix socket in the store directory; --web also serves the owner's page on a loopback HOST:PORT.",
  options: { web: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const { parseWebAddress } = await import("../../web/address.js");
    const web = typeof values.web === "string" ? parseWebAddress(values.web) : undefined;
    const { startDaemon } = await import("../../daemon/server.js");
    const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
    let daemon: Awaited<ReturnType<typeof startDaemon>>;
    let tpm: ElementTpm | null = null;
    try {
      tpm = elementTpm(context);
      daemon = await startDaemon({
        storeDirectory: context.storeDirectory,
        source: context.source,
        lockTimeoutMs: context.lockTimeoutMs,
        kek,
        tpm,
        ...(web ? { web } : {}),
      });
    } finally {
      kek?.fill(0);
      tpm?.ownerAuth?.fill(0);
    }
    print(context, `reid: serving store ${context.storeDirectory} on ${daemon.socket}`);
    if (daemon.webUrl) print(context, `reid: the owner's page is at ${daemon.webUrl}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await daemon.close();
  },
};
