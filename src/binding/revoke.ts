import type { DevicesTold } from "../element/request.js";
import { withIdentity } from "./identity.js";
import { nextCommand, sendCommand } from "./user.js";

/** Tells every bound device, in parallel, that this key is retired: which heard, which were not reached. */
export function revokeAll(directory: string, identifier: Uint8Array): Promise<DevicesTold> {
  return withIdentity(directory, identifier, async (identity) => {
    const now = new Date();
    const { devices } = identity.file.read();
    const sent = await Promise.allSettled(
      devices.map((device) =>
        sendCommand(device.address, device, nextCommand(identity, device, "unbind", [], now)),
      ),
    );
    const named = devices.map(({ handle, address }) => ({ handle, address }));
    return {
      told: named.filter((_, i) => sent[i]?.status === "fulfilled"),
      unreachable: named.filter((_, i) => sent[i]?.status !== "fulfilled"),
    };
  });
}
