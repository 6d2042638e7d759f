import { join } from "node:path";

/** The daemon's Unix socket lives in the store directory (docs/spec.md §6.1). */
export function socketPath(storeDirectory: string): string {
  return join(storeDirectory, "reid.sock");
}

/**
 * Whether something accepts connections on the Unix socket at `path` (a dead daemon's file does not).
 * node:net is loaded here, not at the top: a command on a store no daemon serves never needs it,
 * and it costs `reid status` several percent of its start-up.
 */
export async function answers(path: string): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
