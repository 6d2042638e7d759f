import { isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";
import { Bonjour } from "bonjour-service";
import { handle as handleText } from "./messages.js";
import { PROTOCOL } from "./wire.js";

/** The DNS-SD service type devices advertise: `_reid._tcp`. */
export const SERVICE_TYPE = "reid";

export interface DiscoveredDevice {
  readonly name: string;
  readonly handle: string;
  /** HOST:PORT to give `reid bind`. */
  readonly address: string;
}

/**
 * The IPv4 address of the interface mDNS should speak on for a device listening on `host`: only
 * where the endpoint can be reached. Loopback stays on loopback (a device on 127.0.0.1 is never
 * announced to the LAN); a wildcard address is every interface (undefined).
 */
export function advertisingInterface(host: string): string | undefined {
  if (host === "0.0.0.0" || host === "::") return undefined;
  if (host === "localhost" || host === "::1" || host.startsWith("127.")) return "127.0.0.1";
  if (isIPv4(host)) return host;
  // An IPv6 address (or a name): the IPv4 address of the interface holding it, if there is one.
  for (const addresses of Object.values(networkInterfaces())) {
    if (addresses?.some((a) => a.address === host)) {
      const v4 = addresses.find((a) => a.family === "IPv4");
      if (v4) return v4.address;
    }
  }
  return undefined;
}

/**
 * Advertises the device role over mDNS with its handle in the TXT record, so a user finds it; the
 * handle is public (it names the key, it reveals nothing of the identifier). Only on the interface
 * the endpoint listens on (see advertisingInterface). Errors of the multicast socket (no multicast
 * route) are reported once and do not stop the daemon.
 */
export function advertise(
  handle: string,
  port: number,
  listenHost: string,
  report: (message: string) => void,
): { update(handle: string): void; close(): Promise<void> } {
  const scope = advertisingInterface(listenHost);
  // Bound to the wildcard so multicast queries arrive; joined and answering on `scope` alone.
  // Bonjour hands these to multicast-dns, though its type names only the service fields.
  const options = (scope ? { interface: scope, bind: "0.0.0.0" } : {}) as ConstructorParameters<
    typeof Bonjour
  >[0];
  const bonjour = new Bonjour(options, (error: Error) => report(`mDNS advertising failed: ${error.message}`));
  const publish = (current: string) =>
    bonjour.publish({
      name: `reid-${current.slice(0, 12)}`,
      type: SERVICE_TYPE,
      protocol: "tcp",
      port,
      txt: { handle: current, v: String(PROTOCOL) },
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
      handle = handleText.read((service.txt as Record<string, unknown> | undefined)?.handle, "handle");
    } catch {
      return; // Not a reid device, or a malformed one: not listed.
    }
    // Where the answer came from is on a link we share, so reachable; the A records list every
    // interface of the device, some of them not reachable from here, so they come second.
    const host = service.referer?.address ?? service.addresses?.find((a) => !a.includes(":"));
    if (!host || !Number.isInteger(service.port)) return;
    found.set(handle, { name: service.name, handle, address: `${host}:${service.port}` });
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  browser.stop();
  bonjour.destroy();
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}
