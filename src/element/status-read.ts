import type { Credentials } from "../auth/actor.js";
import { sourceName } from "../entropy/source-spec.js";
import { FactoryUnit } from "../factory/factory-unit.js";
import type { ElementStatus } from "./api.js";
import type { ElementOptions } from "./element.js";
import { elementStatus } from "./element-status.js";
import { ownerSummary } from "./pin-operations.js";
import { readProven } from "./proven-read.js";
import { ScheduleRegister } from "./schedule.js";
import { openElementStore } from "./store-side.js";

/** The status of one store, read without the element. */
export interface StatusReader {
  /** The status, for whoever gave `credentials` (a TPM store under the PIN's authorization needs it). */
  status(credentials: Credentials): Promise<ElementStatus>;
  close(): Promise<void>;
}

/**
 * Reads a store's status the way the element answers it (element-status.ts), composing only the
 * store's read side: the store opened read-only under its lock, the owner PIN's state, the schedule
 * and the factory provisioning, each read from the store directory. Nothing of the element's
 * request pipeline, audit log or passkeys is loaded, and nothing is written, but for a PIN checked
 * to read a TPM store under its authorization, which counts the try as every check does. What only
 * a daemon keeps (the unlock window) is never open here: the daemon's status says it.
 */
export async function openStatusReader(options: Omit<ElementOptions, "write">): Promise<StatusReader> {
  const side = await openElementStore({ ...options, write: false });
  const { opened, owner } = side;
  const { store, backend } = opened;
  const factory = new FactoryUnit(store.directory, backend.tpm ?? null, options.factory);
  const schedule = new ScheduleRegister(store.directory);
  const read = () =>
    elementStatus(store, {
      sourceName: sourceName(side.source),
      factory: () => factory.provisioned()?.kind ?? null,
      scheduled: () => schedule.list(),
      protectedBy: () => backend.protectedBy?.() ?? Promise.resolve("directory"),
      owner: () => ownerSummary(owner, null),
    });
  return {
    // The owner gate's proof of a PIN is the owner PIN's own check (OwnerGate.prove).
    status: (credentials) => readProven(credentials, read, () => owner.authorize(credentials)),
    close: () => side.close(),
  };
}
