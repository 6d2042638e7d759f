import { existsSync } from "node:fs";
import { connect } from "node:net";
import type { ElementApi } from "../element/api.js";
import { openElement } from "../element/element.js";
import { ElementService } from "../element/service.js";
import type { CliContext } from "./context.js";
import { readKeyFile } from "./key-file.js";

/**
 * Runs one command against the element: through the daemon when one owns the store, directly
 * otherwise (opening the store, then closing it: zeroing the FIFO, releasing the lock). Both ways
 * give the same answers, so a command prints the same either way.
 */
export async function withElement<T>(
  context: CliContext,
  access: "read" | "write",
  task: (element: ElementApi) => Promise<T>,
): Promise<T> {
  const element = (await daemonFor(context.storeDirectory)) ?? (await openDirect(context, access));
  try {
    return await task(element);
  } finally {
    await element.close();
  }
}

/** The daemon serving this store, if one is alive; a stale socket file counts as none. */
async function daemonFor(storeDirectory: string): Promise<ElementApi | null> {
  const { socketPath } = await import("../daemon/socket.js");
  const socket = socketPath(storeDirectory);
  if (!existsSync(socket)) return null;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(socket);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (!alive) return null;
  const { RemoteElement } = await import("../daemon/client.js");
  return new RemoteElement(socket);
}

async function openDirect(context: CliContext, access: "read" | "write"): Promise<ElementApi> {
  const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
  try {
    return new ElementService(
      await openElement({
        storeDirectory: context.storeDirectory,
        source: context.source,
        write: access === "write",
        lockTimeoutMs: context.lockTimeoutMs,
        kek,
      }),
    );
  } finally {
    // The sealer keeps its own copy inside a KeyObject.
    kek?.fill(0);
  }
}
