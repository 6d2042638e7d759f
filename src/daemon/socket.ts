import { connect } from "node:net";
import { join } from "node:path";

/** The daemon's Unix socket lives in the store directory (docs/spec.md §6.1). */
export function socketPath(storeDirectory: string): string {
  return join(storeDirectory, "reid.sock");
}

/** Whether something accepts connections on the Unix socket at `path` (a dead daemon's file does not). */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
