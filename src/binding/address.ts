import { networkInterfaces } from "node:os";
import { parseHostPort, splitHostPort } from "../http/address.js";

/** The device role's default: loopback, so nothing is reachable from the network unless asked for. */
export const DEFAULT_LISTEN = "127.0.0.1:7470";

/**
 * HOST:PORT of a device (`reid bind`, `reid command`...) or of the device role (`--listen`): an IP
 * address or a DNS-safe host name, and a port (`--listen` may ask for 0: any free port).
 */
export function parseDeviceAddress(
  text: string,
  what: string,
  allowZero = false,
): { host: string; port: number; address: string } {
  return parseHostPort(text, what, { example: DEFAULT_LISTEN, allowZero });
}

/**
 * Where a user reaches a device role that listens on `address`: the address itself, but for a
 * wildcard (0.0.0.0, [::]), which names no host to connect to: then this machine's first IPv4
 * address that is not loopback (the one a user on its network is likeliest to reach), else
 * 127.0.0.1. What `reid pair` (and the page) shows and the QR code carries: docs/spec.md §7.9.
 */
export function reachableAddress(address: string): string {
  const parts = splitHostPort(address);
  if (!parts || (parts.host !== "0.0.0.0" && parts.host !== "::")) return address;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === "IPv4" && !a.internal);
  return `${external?.address ?? "127.0.0.1"}:${parts.port}`;
}
