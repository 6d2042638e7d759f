import { certificationRequest } from "../derive/certificate.js";
import { type DerivedKeys, deriveAll, wipe } from "../derive/derivation.js";
import { publicKeysOf, type Statement, signStatement } from "../derive/succession-statement.js";
import type { IncomingIdentifier, OutgoingIdentifier } from "../element/events.js";
import type { EnrollmentRecord } from "./enrollment-record.js";
import type { OutboxEntry } from "./outbox.js";

/**
 * The outbox entries the enrollment companion writes before a commit (docs/spec.md §10.9): the
 * statement signed while the keys exist, the keys wiped after.
 */
export async function successionEntry(
  record: EnrollmentRecord,
  outgoing: OutgoingIdentifier,
  incoming: IncomingIdentifier,
  at: Date,
): Promise<OutboxEntry> {
  const statement: Statement = {
    v: 1,
    type: "succession",
    registry: record.registry,
    predecessor: outgoing.handle ?? "",
    handle: incoming.handle,
    publicKeys: { ed25519: "", p256: "" },
    generation: incoming.generation,
    at: at.toISOString(),
  };
  return withKeys(outgoing, async (old) =>
    withKeys(incoming, async (next) => {
      const signed = signStatement(
        { ...statement, publicKeys: publicKeysOf(next) },
        record.algorithm,
        old,
        next,
      );
      const pem = await certificationRequest(next, { algorithm: record.algorithm });
      const csr = pem.replace(/-----[^-]+-----|\s/g, "");
      return entryOf(
        record,
        "succession",
        incoming.handle,
        incoming.generation,
        { ...signed, csr },
        at,
        outgoing.handle ?? "",
      );
    }),
  );
}

export async function retirementEntry(
  record: EnrollmentRecord,
  outgoing: OutgoingIdentifier,
  at: Date,
): Promise<OutboxEntry> {
  const statement: Statement = {
    v: 1,
    type: "retirement",
    registry: record.registry,
    handle: outgoing.handle ?? "",
    at: at.toISOString(),
  };
  return withKeys(outgoing, async (old) =>
    entryOf(
      record,
      "retirement",
      outgoing.handle ?? "",
      outgoing.generation,
      signStatement(statement, record.algorithm, old),
      at,
    ),
  );
}

function entryOf(
  record: EnrollmentRecord,
  kind: OutboxEntry["kind"],
  handle: string,
  generation: number,
  body: OutboxEntry["body"],
  at: Date,
  predecessor?: string,
): OutboxEntry {
  return {
    kind,
    registry: record.registry,
    caCertificate: record.caCertificate,
    caFingerprint: record.caFingerprint,
    handle,
    ...(predecessor ? { predecessor } : {}),
    generation,
    algorithm: record.algorithm,
    body,
    createdAt: at.toISOString(),
    state: "pending",
    attempts: 0,
  };
}

/** `task` with the keys of an identifier, wiped after. */
function withKeys<T>(
  identifier: Pick<OutgoingIdentifier, "read">,
  task: (keys: DerivedKeys) => Promise<T>,
): Promise<T> {
  return identifier.read(async (bytes) => {
    const keys = deriveAll(bytes);
    try {
      return await task(keys);
    } finally {
      wipe(keys);
    }
  });
}
