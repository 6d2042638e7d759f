import { withIdentity } from "./identity.js";
import { nextCommand, sendCommand } from "./user.js";

/** Tells every bound device, in parallel, that this key is retired; returns the handles of those that heard. */
export function revokeAll(directory: string, identifier: Uint8Array): Promise<string[]> {
  return withIdentity(directory, identifier, async (identity) => {
    const now = new Date();
    const { devices } = identity.file.read();
    const sent = await Promise.allSettled(
      devices.map((device) =>
        sendCommand(device.address, device, nextCommand(identity, device, "unbind", [], now)),
      ),
    );
    return devices.filter((_, i) => sent[i]?.status === "fulfilled").map((device) => device.handle);
  });
}
