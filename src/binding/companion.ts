import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LifecycleListener } from "../element/events.js";
import type { BindingEvent } from "../element/request.js";
import { BINDINGS_FILE, wipeBindings } from "./bindings-file.js";

/**
 * The bindings' part in the identifier's lifecycle. Before a reset or erase, while the old keys
 * still exist, every device this element is bound to is sent a signed `unbind` (best effort, a few
 * seconds at most), so the devices refuse the old key from then on; after the change the bindings
 * file, sealed under the old identifier's key, is removed: a device's bindings go with its
 * identifier. Costs nothing when there are no bindings: the binding code loads only then.
 * Specified in docs/spec.md §7.8.
 */
export function bindingCompanion(
  directory: string,
  announce: (event: BindingEvent) => void,
  /** The element's clock, which stamps its events. */
  now: () => Date,
): LifecycleListener {
  return {
    name: "bindings",
    // Without bindings there is no device to tell: the reset keeps its intent in its own write.
    retires: () => existsSync(join(directory, BINDINGS_FILE)),
    async retire({ read }) {
      if (!existsSync(join(directory, BINDINGS_FILE))) return {};
      const { revokeAll } = await import("./revoke.js");
      // A failure to reach a device, or an unreadable file, must not block the owner's reset.
      const devices = await read((identifier) => revokeAll(directory, identifier)).catch(() => null);
      if (devices === null) return {};
      const time = now().toISOString();
      for (const device of devices.told) {
        announce({ event: "revoked", role: "user", peer: device.handle, time });
      }
      // The owner is shown who heard and who did not: an unreachable device keeps the old key.
      return devices.told.length + devices.unreachable.length > 0 ? { devices } : {};
    },
    changed() {
      wipeBindings(directory);
    },
  };
}
