import { existsSync } from "node:fs";
import { join } from "node:path";
import type { IncomingIdentifier, LifecycleListener, OutgoingIdentifier } from "../element/events.js";
import { ENROLLMENT_FILE, type EnrollmentRecord, readEnrollment } from "./enrollment-record.js";
import { OUTBOX_FILE, type OutboxEntry, readOutbox } from "./outbox.js";

/** How the composer delivers: the CLI's direct path once, the daemon retrying with back-off. */
export interface Delivery {
  /** Called after a committed change with the element's handle now; the composer decides when to send. */
  readonly after: (handle: string | null) => void | Promise<void>;
  /** Runs `task` alone with every other use of the outbox in this process. */
  readonly exclusive: <T>(task: () => Promise<T>) => Promise<T>;
}

/**
 * The enrollment's part in the identifier's lifecycle (docs/spec.md §10.9). When the element is
 * enrolled with its current identity, a reset or a switch to random mode (continuity on, not
 * unlinkable) signs a succession with both identities and a CSR of the new key, and anything else
 * that replaces or erases the identity (erase, the switch to factory mode, an unlinkable reset or
 * switch, continuity off) signs a retirement with the old key only; either goes into the outbox
 * durably before the commit. After the commit the outbox is delivered. Costs nothing when the element never enrolled: the code loads only then.
 */
export function enrollmentCompanion(
  directory: string,
  now: () => Date,
  delivery: Delivery,
): LifecycleListener {
  const enrolled = () => existsSync(join(directory, ENROLLMENT_FILE));
  /**
   * The enrollment, if it certifies the outgoing identity or a pending succession leads to it (a
   * reset while the last one waits for delivery chains on); a stale one has nothing left to say.
   */
  const current = (outgoing: OutgoingIdentifier) => {
    const record = readEnrollment(directory);
    if (record === null) return null;
    const chained = () =>
      readOutbox(directory).some(
        (entry) =>
          entry.kind === "succession" && entry.state === "pending" && entry.handle === outgoing.handle,
      );
    return record.handle === outgoing.handle || chained() ? record : null;
  };
  // The switch back to factory mode retires: its identity is no new one, and may be one the
  // registry knows already (a chain never comes back to a handle).
  const succeeds = (outgoing: OutgoingIdentifier, record: EnrollmentRecord) =>
    (outgoing.request === "reset" || outgoing.request === "mode-random") &&
    !outgoing.unlinkable &&
    record.continuity !== false;
  return {
    name: "enrollment",
    retires: enrolled,
    async retire(outgoing) {
      if (!enrolled()) return;
      const record = current(outgoing);
      if (record === null || succeeds(outgoing, record)) return;
      const { retirementEntry } = await import("./statements.js");
      const entry = await retirementEntry(record, outgoing, now());
      await delivery.exclusive(async () => add(directory, entry, outgoing.handle));
    },
    async succeed({ outgoing, incoming }: { outgoing: OutgoingIdentifier; incoming: IncomingIdentifier }) {
      const record = current(outgoing);
      if (record === null || !succeeds(outgoing, record)) return;
      const { successionEntry } = await import("./statements.js");
      const entry = await successionEntry(record, outgoing, incoming, now());
      await delivery.exclusive(async () => add(directory, entry, outgoing.handle));
    },
    async changed(after) {
      if (existsSync(join(directory, OUTBOX_FILE))) await delivery.after(after.handle);
    },
  };
}

/**
 * Appends `entry` durably, dropping what can no longer be delivered now that `handle` is the
 * committed identity (statements of changes that never committed).
 */
async function add(directory: string, entry: OutboxEntry, handle: string | null): Promise<void> {
  const { liveEntries, writeOutbox } = await import("./outbox.js");
  writeOutbox(directory, [...liveEntries(readOutbox(directory), handle), entry]);
}
