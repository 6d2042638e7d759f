import { once } from "node:events";
import { chmodSync, mkdirSync, unlinkSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "node:net";
import type { Context } from "hono";
import type { Actor } from "../auth/actor.js";
import { reachableAddress } from "../binding/address.js";
import { type DeviceOptions, type DeviceRoleServer, serveDeviceRole } from "../binding/device-role.js";
import { DEFAULT_PAIRING_SECONDS, MAX_PAIRING_SECONDS, pairingUri } from "../binding/pairing.js";
import type { ElementOptions } from "../element/element.js";
import { ElementService } from "../element/service.js";
import { Courier } from "../enrollment/courier.js";
import { EnrollmentService } from "../enrollment/service.js";
import { describeOsError, ReidError, StateError, StorageError, UsageError } from "../errors.js";
import { credentialsOf } from "../http/credentials.js";
import { limitedServer } from "../http/limits.js";
import { webAddress } from "../web/address.js";
import type { PageBindings } from "../web/bindings.js";
import type { PageApi } from "../web/links.js";
import type { PagePairing } from "../web/pairing.js";
import { type Clock, SYSTEM_CLOCK } from "./clock.js";
import { loadLogWitness, openBinding, openComposedElement } from "./compose.js";
import { apiRoutes } from "./routes.js";
import { Scheduler } from "./scheduler.js";
import { answers, socketPath } from "./socket.js";

/** Linux refuses Unix socket paths beyond this many bytes. */
const MAX_SOCKET_PATH = 107;

export interface Daemon {
  readonly socket: string;
  readonly service: ElementService;
  readonly scheduler: Scheduler;
  /** The owner's web page, http://localhost:PORT/, when `web` asked for it. */
  readonly webUrl: string | null;
  /** The device role's endpoint, when `device` asked for it. */
  readonly device: DeviceRoleServer | null;
  close(): Promise<void>;
}

/**
 * The secure element daemon: it alone owns the store (it holds the writer lock for its whole
 * life) and serves the element's API on a 0600 Unix socket in the store directory, like ssh-agent
 * or a TPM resource manager. Every CLI command goes through it while it runs.
 */
export async function startDaemon(
  options: Omit<ElementOptions, "write" | "now"> & {
    readonly clock?: Clock;
    /** Also serve the owner's web page here (loopback only). */
    readonly web?: { readonly host: string; readonly port: number };
    /** Also serve the device role of binding (patent FIG. 3) on the network. */
    readonly device?: DeviceOptions;
    /**
     * The owner's PIN, given to `reid serve` once: proved at start (counted as every try), so the
     * daemon holds the TPM's authorization in memory for the requests that carry no PIN.
     */
    readonly ownerPin?: string;
  },
): Promise<Daemon> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  // A non-loopback page is refused before anything opens.
  if (options.web) webAddress(options.web.host, options.web.port);
  const socket = await prepareSocket(options.storeDirectory);
  // Retries with back-off while the registry is out of reach (§10.9).
  const courier = new Courier(options.storeDirectory, () => clock.now(), {
    retry: true,
    timeoutMs: 10_000,
    witness: loadLogWitness,
  });
  const element = await openComposedElement(
    { ...options, write: true, claim: true, now: () => clock.now() },
    courier,
  );
  const service = new ElementService(element);
  let web: { url: string; links: PageApi; close(): Promise<void> } | null = null;
  let api: { stop(): Promise<void> };
  let device: DeviceRoleServer | null = null;
  try {
    api = await serveApi(
      service,
      socket,
      () => web?.links ?? NO_PAGE,
      () => device,
    );
  } catch (error) {
    await service.close();
    throw error;
  }
  const scheduler = new Scheduler(service.control, clock);
  const { ownerPin } = options;
  const close = async () => {
    await device?.close();
    await web?.close();
    await scheduler.stop();
    await courier.stop();
    await api.stop();
    await service.close();
  };
  try {
    if (ownerPin !== undefined)
      await service.control.proveOwner({ principal: "cli", credentials: { pin: ownerPin } });
    await scheduler.start();
    // What an earlier run (or a direct CLI reset) left pending goes out now; a store the TPM keeps
    // under the PIN's authorization, unproven, waits for the next change.
    const status = await service.status().catch((error: unknown) => {
      if (error instanceof ReidError && error.code === "pin-required") return null;
      throw error;
    });
    if (status) courier.kick(status.handle);
    if (options.web) {
      const { startWebServer } = await import("../web/server.js");
      // The page acts for its signed-in owner through the element's API, like every other surface.
      web = await startWebServer({
        element: (actor) => service.as(actor),
        host: options.web.host,
        port: options.web.port,
        pairing: pagePairing(service, () => device),
        bindings: pageBindings(service, () => device),
      });
    }
    if (options.device)
      device = await serveDeviceRole(service.control, service.control.storeDirectory, options.device);
  } catch (error) {
    // An unreadable schedule, a port in use: no daemon, and nothing left behind (socket, lock, open store).
    await close();
    throw error;
  }
  return { socket, service, scheduler, webUrl: web?.url ?? null, device, close };
}

/**
 * The page's pairing button: the same `pair` of the binding operations that `reid pair` reaches
 * through the socket, acting for the owner the page proved (docs/spec.md §8.4).
 */
function pagePairing(service: ElementService, device: () => DeviceRoleServer | null): PagePairing {
  return {
    defaultSeconds: DEFAULT_PAIRING_SECONDS,
    maxSeconds: MAX_PAIRING_SECONDS,
    served: () => {
      const role = device();
      return role ? reachableAddress(role.address) : null;
    },
    open: async (actor, seconds) => {
      const binding = await openBinding(service.control, service.control.storeDirectory, actor, device);
      const opened = await binding.pair(seconds);
      return { ...opened, uri: pairingUri(opened) };
    },
  };
}

/**
 * The page's bindings panel: `bindings`, `unbind`, `bind`, `command` and `telemetry` of the binding
 * operations, as `reid` reaches them.
 */
function pageBindings(service: ElementService, device: () => DeviceRoleServer | null): PageBindings {
  const binding = (actor: Actor) =>
    openBinding(service.control, service.control.storeDirectory, actor, device);
  return {
    list: async () => (await binding({ principal: "web" })).bindings(),
    unbind: async (actor, handle) => (await binding(actor)).unbind(handle),
    bind: async (actor, address, expectHandle, code) =>
      (await binding(actor)).bind(address, expectHandle, code),
    command: async (actor, address, name, args) => (await binding(actor)).command(address, name, args),
    telemetry: async (actor, address, count) => (await binding(actor)).telemetry(address, count),
  };
}

/** A daemon without --web has no page to sign in to. */
const NO_PAGE: PageApi = {
  pageLink: () =>
    Promise.reject(
      new StateError(
        "no-page",
        "this daemon serves no page: start it with 'reid serve --web 127.0.0.1:PORT'",
      ),
    ),
};

/**
 * The socket's path in the store directory, once it is known to fit, the directory exists and no
 * live daemon answers there (said at once, instead of waiting out the store's lock).
 */
async function prepareSocket(storeDirectory: string): Promise<string> {
  const socket = socketPath(storeDirectory);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new UsageError(
      `the store path is too long for the daemon's socket (${socket}): use a shorter --store`,
    );
  }
  try {
    mkdirSync(storeDirectory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StorageError(`cannot create store ${storeDirectory}: ${describeOsError(error)}`);
  }
  if (await answers(socket)) {
    throw new StorageError(
      `store ${storeDirectory} is busy: a daemon already serves it on ${socket}`,
      "store-busy",
    );
  }
  return socket;
}

/**
 * The daemon's API (element and binding operations, events) on the 0600 socket. Whoever reaches
 * the socket is the owner's own account; the PIN still gates owner operations. Stopping ends the
 * event streams (a follower sees the end of its stream, not a cut), lets what is still answering
 * finish for a moment, then cuts every connection left and removes the socket.
 */
async function serveApi(
  service: ElementService,
  socket: string,
  page: () => PageApi,
  /** The device role, once it serves: `reid pair` opens its window. */
  device: () => DeviceRoleServer | null,
): Promise<{ stop(): Promise<void> }> {
  // The socket's callers are the owner's account: they may pass through the owner's unlock window.
  const actorFor = (c: Context) => ({ principal: "cli", credentials: credentialsOf(c), windowed: true });
  const routes = apiRoutes(
    (c) => service.as(actorFor(c)),
    (c) => openBinding(service.control, service.control.storeDirectory, actorFor(c), device),
    (c) => new EnrollmentService(service.control, loadLogWitness, actorFor(c)),
    page,
  );
  const server = limitedServer(routes.fetch, {
    headersMs: HEADERS_TIMEOUT_MS,
    requestMs: REQUEST_TIMEOUT_MS,
  });
  const responses = new Set<ServerResponse>();
  server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
    responses.add(response);
    response.once("close", () => responses.delete(response));
  });
  try {
    // We hold the store's lock, so a socket file left here belongs to a daemon that died.
    removeSocket(socket);
    await listen(server, socket);
  } catch (error) {
    throw error instanceof StorageError
      ? error
      : new StorageError(`cannot listen on ${socket}: ${describeOsError(error)}`);
  }
  return {
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      service.endFeeds();
      await finishing(responses, FINISH_MS);
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await closed;
      removeSocket(socket);
    },
  };
}

/**
 * A client of the socket sends its headers within 5 s and its whole request within 20 s (a
 * 256 MiB message to sign takes well under a second on a Unix socket): docs/spec.md §6.1.
 */
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 20_000;

/** How long a closing daemon lets the responses in flight finish. */
const FINISH_MS = 2000;

/** Resolves once every response in `responses` has closed, or after `ms`. */
async function finishing(responses: ReadonlySet<ServerResponse>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  const done = Promise.all([...responses].map((response) => once(response, "close").catch(() => undefined)));
  await Promise.race([done, waited]);
  clearTimeout(timer);
}

async function listen(server: Server, socket: string): Promise<void> {
  // Created 0600 from the start: no window in which another user could connect.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socket, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(socket, 0o600);
}

function removeSocket(socket: string): void {
  try {
    unlinkSync(socket);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
