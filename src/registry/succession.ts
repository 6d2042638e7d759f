import { registryCorrupt } from "./registry-errors.js";
import type { Device, RegistryStore } from "./store/store.js";

/**
 * The most identities one chain may hold. A device reset ten thousand times is not a device; a
 * chain that long (or one that loops) is a damaged database, and walking it must end.
 */
export const MAX_CHAIN_LINKS = 10_000;

/**
 * The whole succession chain through `device` (docs/spec.md §10.6): its predecessors back to the
 * first identity and its successors to the last, first identity first. Each link must name the
 * other back (a predecessor's successor is this device, and so on); a link that does not, a loop
 * or more than MAX_CHAIN_LINKS identities is `registry-corrupt`.
 */
export async function successionChain(
  store: Pick<RegistryStore, "device">,
  device: Device,
): Promise<Device[]> {
  const seen = new Set([device.handle]);
  const step = async (from: Device, next: string, back: "successor" | "predecessor") => {
    if (seen.has(next)) throw broken(device.handle, `loops back to ${next}`);
    if (seen.size >= MAX_CHAIN_LINKS) {
      throw broken(device.handle, `is longer than ${MAX_CHAIN_LINKS.toLocaleString("en")} identities`);
    }
    const link = await store.device(next);
    if (link?.[back] !== from.handle) {
      throw broken(device.handle, `is broken: ${next} does not name ${from.handle} as its ${back}`);
    }
    seen.add(next);
    return link;
  };
  const before: Device[] = [];
  for (let at = device; at.predecessor !== null; ) {
    at = await step(at, at.predecessor, "successor");
    before.push(at);
  }
  const after: Device[] = [];
  for (let at = device; at.successor !== null; ) {
    at = await step(at, at.successor, "predecessor");
    after.push(at);
  }
  return [...before.reverse(), device, ...after];
}

function broken(handle: string, what: string) {
  return registryCorrupt(`the succession chain of ${handle} ${what}`);
}
