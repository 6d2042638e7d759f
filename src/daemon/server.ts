import { chmodSync, mkdirSync, unlinkSync } from "node:fs";
import type { Server } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { type ElementOptions, openElement } from "../element/element.js";
import { ElementService } from "../element/service.js";
import { describeOsError, StorageError, UsageError } from "../errors.js";
import { type Clock, SYSTEM_CLOCK } from "./clock.js";
import { apiRoutes, credentialsOf } from "./routes.js";
import { Scheduler } from "./scheduler.js";
import { socketPath } from "./socket.js";

/** Linux refuses Unix socket paths beyond this many bytes. */
const MAX_SOCKET_PATH = 107;

export interface Daemon {
  readonly socket: string;
  readonly service: ElementService;
  readonly scheduler: Scheduler;
  close(): Promise<void>;
}

/**
 * The secure element daemon: it alone owns the store (it holds the writer lock for its whole
 * life) and serves the element's API on a 0600 Unix socket in the store directory, like ssh-agent
 * or a TPM resource manager. Every CLI command goes through it while it runs.
 */
export async function startDaemon(
  options: Omit<ElementOptions, "write" | "now"> & { readonly clock?: Clock },
): Promise<Daemon> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const socket = socketPath(options.storeDirectory);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new UsageError(
      `the store path is too long for the daemon's socket (${socket}): use a shorter --store`,
    );
  }
  try {
    mkdirSync(options.storeDirectory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StorageError(`cannot create store ${options.storeDirectory}: ${describeOsError(error)}`);
  }
  const element = await openElement({ ...options, write: true, now: () => clock.now() });
  const service = new ElementService(element);
  // Whoever reaches the 0600 socket is the owner's own account; the PIN still gates owner operations.
  const routes = apiRoutes(
    (c) => service.as({ principal: "cli", credentials: credentialsOf(c) }),
    (listener) => service.control.onNotification(listener),
  );
  const server = createAdaptorServer({ fetch: routes.fetch }) as Server;
  try {
    // We hold the store's lock, so a socket file left here belongs to a daemon that died.
    removeSocket(socket);
    await listen(server, socket);
  } catch (error) {
    await service.close();
    throw error instanceof StorageError
      ? error
      : new StorageError(`cannot listen on ${socket}: ${describeOsError(error)}`);
  }
  const scheduler = new Scheduler(service.control, clock);
  await scheduler.start();
  return {
    socket,
    service,
    scheduler,
    close: async () => {
      await scheduler.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Long-lived streams (events) would hold the close open for ever.
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await closed;
      removeSocket(socket);
      await service.close();
    },
  };
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
