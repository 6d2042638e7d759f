import { type Command, print } from "../context.js";
import { readKeyFile } from "../key-file.js";

export const command: Command = {
  usage: "reid [--store DIR] [--source SPEC] [--kek-file FILE] serve",
  summary:
    "Runs the secure element daemon: it alone holds the store and serves its API on a 0600 Unix socket in the store directory.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const { startDaemon } = await import("../../daemon/server.js");
    const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
    let daemon: Awaited<ReturnType<typeof startDaemon>>;
    try {
      daemon = await startDaemon({
        storeDirectory: context.storeDirectory,
        source: context.source,
        lockTimeoutMs: context.lockTimeoutMs,
        kek,
      });
    } finally {
      kek?.fill(0);
    }
    print(context, `reid: serving store ${context.storeDirectory} on ${daemon.socket}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await daemon.close();
  },
};
