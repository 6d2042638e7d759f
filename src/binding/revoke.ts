import { withIdentity } from "./identity.js";
import { nextCommand, sendCommand } from "./user.js";

/** Tells every bound device, in parallel, that this key is retired; returns how many heard it. */
export function revokeAll(directory: string, identifier: Uint8Array): Promise<number> {
  return withIdentity(directory, identifier, async (identity) => {
    const now = new Date();
    const { devices } = identity.file.read();
    const sent = await Promise.allSettled(
      devices.map((device) =>
        sendCommand(device.address, device, nextCommand(identity, device, "unbind", [], now)),
      ),
    );
    return sent.filter((result) => result.status === "fulfilled").length;
  });
}
