import { Bonjour } from "bonjour-service";
import { handleField } from "./wire.js";

/** The DNS-SD service type devices advertise: `_reid._tcp`. */
export const SERVICE_TYPE = "reid";

export interface DiscoveredDevice {
  readonly name: string;
  readonly handle: string;
  /** HOST:PORT to give `reid bind`. */
  readonly address: string;
}

/**
 * Advertises the device role over mDNS with its handle in the TXT record, so a user finds it; the
 * handle is public (it names the key, it reveals nothing of the identifier). Errors of the
 * multicast socket (no multicast route) are reported once and do not stop the daemon.
 */
export function advertise(
  handle: string,
  port: number,
  report: (message: string) => void,
): { update(handle: string): void; close(): Promise<void> } {
  const bonjour = new Bonjour({}, (error: Error) => report(`mDNS advertising failed: ${error.message}`));
  const publish = (current: string) =>
    bonjour.publish({
      name: `reid-${current.slice(0, 12)}`,
      type: SERVICE_TYPE,
      protocol: "tcp",
      port,
      txt: { handle: current, v: "1" },
    });
  let service = publish(handle);
  return {
    // A reset changes the handle: the old name is withdrawn (a goodbye), the new one announced.
    update(next) {
      service.stop?.(() => {});
      service = publish(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        bonjour.unpublishAll(() => {
          bonjour.destroy();
          resolve();
        });
      }),
  };
}

/** Browses for `_reid._tcp` for `ms` and lists what answered, one entry per handle. */
export async function discover(ms: number): Promise<DiscoveredDevice[]> {
  const found = new Map<string, DiscoveredDevice>();
  const bonjour = new Bonjour({}, () => {});
  const browser = bonjour.find({ type: SERVICE_TYPE, protocol: "tcp" }, (service) => {
    let handle: string;
    try {
      handle = handleField((service.txt ?? {}) as Record<string, unknown>, "handle");
    } catch {
      return; // Not a reid device, or a malformed one: not listed.
    }
    // The A records name the host; a responder that sent none is reached where it answered from.
    const host = service.addresses?.find((a) => !a.includes(":")) ?? service.referer?.address;
    if (!host || !Number.isInteger(service.port)) return;
    found.set(handle, { name: service.name, handle, address: `${host}:${service.port}` });
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  browser.stop();
  bonjour.destroy();
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}
