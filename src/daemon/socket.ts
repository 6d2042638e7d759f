import { join } from "node:path";

/** SPEC section 5: the daemon's Unix socket lives in the store directory. */
export function socketPath(storeDirectory: string): string {
  return join(storeDirectory, "reid.sock");
}
