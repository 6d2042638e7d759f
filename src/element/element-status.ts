import type { FactoryKind } from "../factory/factory-source.js";
import { formatName } from "../format/format.js";
import type { Protection } from "../storage/backend.js";
import type { IdentifierStore } from "../storage/identifier-store.js";
import type { ElementStatus } from "./api.js";
import type { OwnerSummary } from "./pin-operations.js";
import type { ScheduledRequest } from "./schedule.js";

/** What status reads beside the store's record, each where it lives. */
export interface StatusSources {
  readonly sourceName: string;
  /** The factory source the element was provisioned with (provisioning.json), or null. */
  readonly factory: () => FactoryKind | null;
  readonly scheduled: () => readonly ScheduledRequest[];
  /** What protects the identifier now; absent: the store directory's permissions. */
  readonly protectedBy?: () => Promise<Protection>;
  readonly owner: () => OwnerSummary;
}

/**
 * The element's status, derived in one place from the committed record and what lives beside it:
 * the composed element answers with it (ControlUnit.status), and so does a read of a store no
 * daemon serves, which composes only the store's read side (status-read.ts). The record is read
 * first: a store that needs a proof to be read refuses before anything else is looked at.
 */
export async function elementStatus(store: IdentifierStore, sources: StatusSources): Promise<ElementStatus> {
  const current = await store.info();
  return {
    state: current.state,
    generation: current.generation,
    handle: current.handle,
    mode: current.mode,
    factory: sources.factory(),
    source: sources.sourceName,
    format: formatName(current.format),
    scheduled: sources.scheduled().map(({ id, type, at, format, unlinkable }) => ({
      id,
      type,
      at,
      ...(format ? { format } : {}),
      ...(unlinkable === true ? { unlinkable } : {}),
    })),
    store: store.directory,
    backend: store.description,
    protectedBy: (await sources.protectedBy?.()) ?? "directory",
    requests: current.singleType ? "single-type" : "typed",
    sealed: current.sealed,
    sealingKey: store.sealingKeyId,
    sealingKeyHome: store.sealing?.keyRef()?.key ?? (store.sealingKeyId ? "kek" : null),
    owner: sources.owner(),
  };
}
