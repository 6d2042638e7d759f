import type { AddressInfo } from "node:net";
import type { Hono } from "hono";
import type { Actor } from "../auth/actor.js";
import type { ElementApi } from "../element/api.js";
import { describeOsError, UsageError } from "../errors.js";
import { limitedServer } from "../http/limits.js";
import { webAddress } from "./address.js";
import { loadAssets } from "./assets.js";
import type { PageBindings } from "./bindings.js";
import { type PageApi, PageLinks } from "./links.js";
import { ownerPage } from "./page.js";
import type { PagePairing } from "./pairing.js";

export interface WebServer {
  /** The page's URL, http://localhost:PORT/ (WebAuthn needs the name, not the address). */
  readonly url: string;
  /** The one-time sign-in links, for the daemon's socket alone to hand out (docs/spec.md §6.4). */
  readonly links: PageApi;
  close(): Promise<void>;
}

export interface WebServerOptions {
  /** The element acting for `actor` (the daemon's service, through ElementApi). */
  readonly element: (actor: Actor) => ElementApi;
  /** A loopback address only (127.0.0.0/8, ::1, localhost); anything else is a usage error. */
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The device role's pairing window (the daemon's binding operations). */
  readonly pairing: PagePairing;
  /** The element's bindings (the daemon's binding operations). */
  readonly bindings: PageBindings;
}

/** Serves the owner's page next to the daemon's socket, on loopback only. */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { host, port } = webAddress(options.host, options.port);
  const assets = loadAssets();
  let page: Hono | null = null;
  // Every local account reaches the port: none may hold connections open (docs/spec.md §8).
  const server = limitedServer(
    // `env` carries the connection: the page limits owner operations per remote address.
    (request: Request, env?: object) =>
      page ? page.fetch(request, env) : new Response(null, { status: 503 }),
    { headersMs: 5000, requestMs: 10_000 },
  );
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "the port is in use (EADDRINUSE)" : describeOsError(error);
      const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      reject(new UsageError(`cannot serve the web page on ${where}: ${why}`, "web-listen"));
    };
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const origin = `http://localhost:${bound}`;
  const links = new PageLinks(origin);
  page = ownerPage({
    element: options.element,
    origin,
    assets,
    links,
    pairing: options.pairing,
    bindings: options.bindings,
  });
  return {
    url: `${origin}/`,
    links,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Event streams would hold the close open for ever.
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await closed;
    },
  };
}
