import { existsSync } from "node:fs";
import type { Credentials } from "../auth/actor.js";
import { checkGivenPin } from "../auth/owner-pin.js";
import type { BindingApi } from "../binding/api.js";
import { answers, socketPath } from "../daemon/socket.js";
import type { ElementApi, ElementStatus } from "../element/api.js";
import type { ElementOptions } from "../element/element.js";
import { openStatusReader } from "../element/status-read.js";
import type { EnrollmentApi } from "../enrollment/api.js";
import { sourceName } from "../entropy/source-spec.js";
import { ReidError, UsageError } from "../errors.js";
import { backendName } from "../storage/backends.js";
import { keyIdOf } from "../storage/sealer.js";
import { readStoreFile, type StoreFile } from "../storage/store-file.js";
import { type StoreSpec, storeSpecOf } from "../storage/store-spec.js";
import { type CliContext, requireStore } from "./context.js";
import { readKeyFile } from "./key-file.js";
import { canPrompt, promptHidden, secretPrompt } from "./prompt.js";

/**
 * Runs one command against the element: through the daemon when one owns the store, directly
 * otherwise (opening the store, then closing it: zeroing the FIFO, releasing the lock). Both ways
 * give the same answers, so a command prints the same either way. When the owner's PIN is needed
 * and none was given, it is asked for at the terminal, once.
 */
export function withElement<T>(
  context: CliContext,
  access: "read" | "write",
  task: (element: ElementApi) => Promise<T>,
  /** What lives in the daemon alone (the unlock window): the error to raise when none serves the store. */
  onlyDaemon?: () => Error,
): Promise<T> {
  return withConnection(
    context,
    access,
    (connection, credentials) => task(connection.as(credentials)),
    onlyDaemon,
  );
}

/**
 * Runs one binding command (the user role, the listing): through the daemon's binding protocol
 * when a daemon owns the store, on the opened element otherwise, as `withElement` does.
 */
export function withBinding<T>(
  context: CliContext,
  access: "read" | "write",
  task: (binding: BindingApi) => Promise<T>,
): Promise<T> {
  return withConnection(context, access, async (connection, credentials) =>
    task(await connection.binding(credentials)),
  );
}

/**
 * Runs one enrollment command (`enroll`'s request, `renew`): through the daemon when one owns the
 * store (it holds the key that TLS signs with, and the owner's unlock window), on the opened
 * element otherwise, as `withElement` does.
 */
export function withEnrollment<T>(
  context: CliContext,
  task: (enrollment: EnrollmentApi) => Promise<T>,
): Promise<T> {
  return withConnection(context, "read", async (connection, credentials) =>
    task(await connection.enrollment(credentials)),
  );
}

async function withConnection<T>(
  context: CliContext,
  access: "read" | "write",
  task: (connection: Connection, credentials: Credentials) => Promise<T>,
  onlyDaemon?: () => Error,
): Promise<T> {
  const daemon = await daemonFor(context);
  if (!daemon && onlyDaemon) throw onlyDaemon();
  return withProof(context, daemon ?? (await openDirect(context, access)), task);
}

/**
 * The element's status: through the daemon when one owns the store, else read from the store
 * without composing the element (element/status-read.ts), which gives the same answer. Start-up
 * is what `reid status` is measured by (bench/startup.ts).
 */
export async function readStatus(context: CliContext): Promise<ElementStatus> {
  const daemon = await daemonFor(context);
  if (daemon)
    return withProof(context, daemon, (connection, credentials) => connection.as(credentials).status());
  requireStore(context);
  const reader = await withKeyFiles(context, (kek) => openStatusReader({ ...elementOptions(context), kek }));
  return withProof(context, reader, (opened, credentials) => opened.status(credentials));
}

/**
 * Runs `task` on `connection` with the context's credentials, then closes it. When the owner's PIN
 * is needed and none was given, it is asked for at the terminal, once, and the task runs again.
 */
async function withProof<C extends { close(): Promise<void> }, T>(
  context: CliContext,
  connection: C,
  task: (connection: C, credentials: Credentials) => Promise<T>,
): Promise<T> {
  try {
    try {
      return await task(connection, context.credentials);
    } catch (error) {
      if (
        !(error instanceof ReidError && error.code === "pin-required") ||
        context.credentials.pin ||
        !canPrompt()
      ) {
        throw error;
      }
      const pin = await promptHidden("PIN: ", context.stderr);
      checkGivenPin(pin, "the PIN");
      return await task(connection, { pin });
    }
  } finally {
    await connection.close();
  }
}

interface Connection {
  as(credentials: Credentials): ElementApi;
  binding(credentials: Credentials): Promise<BindingApi>;
  enrollment(credentials: Credentials): Promise<EnrollmentApi>;
  close(): Promise<void>;
}

/**
 * The daemon serving this store, if one is alive; a stale socket file counts as none. The daemon
 * has its own entropy source and key-encryption key: a command that names others is refused
 * rather than quietly served with the daemon's.
 */
async function daemonFor(context: CliContext): Promise<Connection | null> {
  const socket = socketPath(context.storeDirectory);
  if (!existsSync(socket) || !(await answers(socket))) return null;
  const { RemoteElement } = await import("../daemon/client.js");
  if (context.newKekFile) {
    // The key cannot travel over the socket, and the daemon keeps the key it was started with.
    throw new UsageError(
      `a daemon serves store ${context.storeDirectory}: stop it to re-seal the store under a new key-encryption key, then start it with that key`,
    );
  }
  if (context.source || context.kekFile || context.store) {
    // With the PIN given: a TPM store under its authorization answers status only after a proof.
    await checkDaemonMatches(context, new RemoteElement(socket, context.credentials));
  }
  const opened: ElementApi[] = [];
  const as = (credentials: Credentials) => {
    const remote = new RemoteElement(socket, credentials);
    opened.push(remote);
    return remote;
  };
  return {
    as,
    binding: async (credentials) => {
      const remote = as(credentials);
      const { RemoteBinding } = await import("../binding/client.js");
      return new RemoteBinding(remote.connection);
    },
    enrollment: async (credentials) => {
      const remote = as(credentials);
      const { RemoteEnrollment } = await import("../enrollment/client.js");
      return new RemoteEnrollment(remote.connection);
    },
    close: async () => {
      for (const remote of opened) await remote.close();
    },
  };
}

async function checkDaemonMatches(context: CliContext, daemon: ElementApi): Promise<void> {
  try {
    const status = await daemon.status();
    const mismatch = (what: string) =>
      new UsageError(
        `the daemon serving store ${context.storeDirectory} uses ${what}: give it to 'reid serve', not to this command`,
      );
    // The daemon's store remembers the backend it opened (store.json is written before it serves).
    if (context.store) {
      const served = readStoreFile(context.storeDirectory);
      if (!(await servesPlace(context.store, context.storeDirectory, served))) {
        throw mismatch(served ? `${backendName(served.backend)} at '${served.spec}'` : "another backend");
      }
    }
    if (context.source && status.source !== sourceName(context.source)) {
      throw mismatch(`entropy source ${status.source}`);
    }
    if (context.kekFile) {
      const kek = readKeyFile(context.kekFile, "key-encryption key file");
      const id = keyIdOf(kek);
      kek.fill(0);
      if (status.sealingKey !== id) {
        throw mismatch(status.sealingKey ? "another key-encryption key" : "no key-encryption key");
      }
    }
  } finally {
    await daemon.close();
  }
}

/** Whether the daemon's store (`served`) keeps its areas where the command's --tpm (or the like) says. */
async function servesPlace(given: StoreSpec, directory: string, served: StoreFile | null): Promise<boolean> {
  if (served === null || served.backend !== given.kind) return false;
  const spec = await storeSpecOf(directory, served);
  return given.backend.samePlace(spec.spec, given.spec);
}

/** What every element the CLI opens gets: the store's backend, the source, the secrets' ways in. */
export function elementOptions(context: CliContext): Omit<ElementOptions, "write" | "kek"> {
  return {
    storeDirectory: context.storeDirectory,
    store: context.store,
    source: context.source,
    lockTimeoutMs: context.lockTimeoutMs,
    env: context.env,
    // Asked only when a backend needs a secret: touching stdin costs every command start-up time.
    prompt: secretPrompt(context.stderr),
  };
}

async function openDirect(context: CliContext, access: "read" | "write"): Promise<Connection> {
  requireStore(context);
  // The element's composition loads only here: a status read never needs it.
  const [{ loadLogWitness, openBinding, openComposedElement }, { ElementService }] = await Promise.all([
    import("../daemon/compose.js"),
    import("../element/service.js"),
  ]);
  const service = new ElementService(
    await withKeyFiles(context, (kek, newKek) =>
      openComposedElement({ ...elementOptions(context), write: access === "write", kek, newKek }),
    ),
  );
  const actor = (credentials: Credentials) => ({ principal: "cli", credentials });
  return {
    as: (credentials) => service.as(actor(credentials)),
    binding: (credentials) => openBinding(service.control, context.storeDirectory, actor(credentials)),
    enrollment: async (credentials) => {
      const { EnrollmentService } = await import("../enrollment/service.js");
      return new EnrollmentService(service.control, loadLogWitness, actor(credentials));
    },
    close: () => service.close(),
  };
}

/** Opens with the key-encryption keys the context names, read from their files and zeroed after. */
async function withKeyFiles<T>(
  context: CliContext,
  open: (kek: Uint8Array | null, newKek: Uint8Array | null) => Promise<T>,
): Promise<T> {
  const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
  let newKek: Uint8Array | null = null;
  try {
    newKek = context.newKekFile ? readKeyFile(context.newKekFile, "new key-encryption key file") : null;
    return await open(kek, newKek);
  } finally {
    // The sealer keeps its own copy inside a KeyObject.
    kek?.fill(0);
    newKek?.fill(0);
  }
}
