import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import type { Context } from "hono";
import { UsageError } from "../errors.js";

/** "HOST:PORT" or "[IPv6]:PORT" split, unchecked beyond its shape; null if it has none. */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  return match ? { host: match[1] ?? match[2] ?? "", port: Number(match[3]) } : null;
}

/**
 * HOST:PORT where a server listens or a client connects: an IP address or a DNS-safe host name,
 * and a port (0, any free port, only when `allowZero`). `example` shows the form in the refusal.
 */
export function parseHostPort(
  text: string,
  what: string,
  options: { readonly example: string; readonly allowZero?: boolean },
): { host: string; port: number; address: string } {
  const parts = splitHostPort(text);
  const hostOk =
    parts && (isIP(parts.host) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(parts.host));
  const portOk = parts && parts.port <= 65_535 && (parts.port > 0 || options.allowZero === true);
  if (!parts || !hostOk || !portOk) {
    throw new UsageError(`bad ${what} '${text.slice(0, 64)}': expected HOST:PORT, e.g. ${options.example}`);
  }
  const host = parts.host;
  return { host, port: parts.port, address: joinHostPort(host, parts.port) };
}

/** HOST:PORT, an IPv6 address in brackets. */
export function joinHostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The address a request's connection came from, which TCP's handshake makes a stranger own,
 * unlike any handle it claims (an IPv4 address mapped into IPv6 written as IPv4; "unknown" without
 * a connection). A proxy in front is what it names.
 */
export function peerOf(c: Context): string {
  // The Node adapter hands every request the connection it came on.
  const address = (c.env as { readonly incoming?: IncomingMessage } | undefined)?.incoming?.socket
    .remoteAddress;
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
