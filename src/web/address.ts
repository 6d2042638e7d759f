import { isIPv4, isIPv6 } from "node:net";
import { UsageError } from "../errors.js";
import { splitHostPort } from "../http/address.js";

/** Where the page listens: a loopback host only, and a TCP port. */
export interface WebAddress {
  /** The address to bind: "127.x.y.z" or "::1" ("localhost" binds 127.0.0.1). */
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `--web HOST:PORT` ("127.0.0.1:8080", "localhost:8080", "[::1]:8080"). Only loopback hosts
 * are accepted: the page controls the identifier, so it must never be reachable from the network.
 */
export function parseWebAddress(text: string): WebAddress {
  const parts = splitHostPort(text);
  if (!parts) {
    throw new UsageError(
      `bad --web '${text.slice(0, 64)}': expected HOST:PORT with a loopback host, e.g. 127.0.0.1:8080`,
    );
  }
  return webAddress(parts.host, parts.port);
}

/** Checks a host and port given apart (startDaemon's `web` option). */
export function webAddress(host: string, port: number): WebAddress {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(
      `bad web port '${String(port).slice(0, 16)}': expected 1 to 65535 (0: any free port)`,
    );
  }
  const bind = loopbackBind(host);
  if (bind === null) {
    throw new UsageError(
      `the web page binds loopback only (127.0.0.0/8, ::1 or localhost), not '${host.slice(0, 64)}'`,
      "web-not-loopback",
    );
  }
  return { host: bind, port };
}

function loopbackBind(host: string): string | null {
  if (host.toLowerCase() === "localhost") return "127.0.0.1";
  if (isIPv4(host)) return host.split(".")[0] === "127" ? host : null;
  if (isIPv6(host)) {
    // The URL parser writes every spelling of ::1 (0:0:0:0:0:0:0:1, ::0001) the same way.
    try {
      return new URL(`http://[${host}]/`).hostname === "[::1]" ? "::1" : null;
    } catch {
      return null;
    }
  }
  return null;
}
