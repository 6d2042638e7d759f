import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { certificationRequest } from "../derive/certificate.js";
import type { DerivedKeys } from "../derive/derivation.js";
import { withDerivedKeys } from "../derive/derived-keys.js";
import { privateKeyObject } from "../derive/signature.js";
import type { ControlUnit } from "../element/control-unit.js";
import { StateError, StorageError } from "../errors.js";
import { serialHex } from "../http/est-wire.js";
import type { Renewal } from "./api.js";
import { certificatesOf, checkedCertificate, fingerprintOf } from "./enroll.js";
import {
  checkpointSize,
  type EnrollmentRecord,
  readEnrollment,
  writeEnrollment,
} from "./enrollment-record.js";
import { type Issued, simpleReenroll } from "./est-client.js";
import { confirmed, type LoadLogWitness } from "./log-witness.js";
import { readOutbox } from "./outbox.js";

/** What a renewal needs of the element: its store directory, its clock, one read of the identifier. */
export type RenewingElement = Pick<ControlUnit, "storeDirectory" | "time" | "useIdentifier">;

/**
 * Renews the enrollment (docs/spec.md §10.8): the same derived key re-enrolled over EST's
 * simplereenroll, authorised by the current certificate as TLS client certificate, over TLS
 * verified against the pinned CA. The new certificate is checked as enrollment checks one and
 * replaces the old in enrollment.json, once its event is in the registry's identity log when the
 * enrollment verifies it (§10.12). It runs inside one read of the identifier, serialized with
 * every request, so no reset can change the identity between the checks and the write.
 */
export async function renewEnrollment(element: RenewingElement, witness: LoadLogWitness): Promise<Renewal> {
  const directory = element.storeDirectory;
  // The read is the owner operation `renew` (service.ts): the proof is asked before anything else.
  return element.useIdentifier(async (identifier, current) => {
    const record = enrollmentIn(directory);
    if (record.handle !== current.handle) throw identityChanged(directory, record, current.handle);
    const now = element.time();
    if (record.notAfter <= now.toISOString()) {
      throw new StateError(
        "enrollment-expired",
        `the enrollment's certificate ${record.serial} ended at ${record.notAfter}: only a current one renews; enroll again with a new token`,
      );
    }
    const ca = pinnedCa(record, directory);
    return withDerivedKeys(directory, identifier, current.handle, async (keys) => {
      const { certificate, logIndex } = await reenrolled(record, ca, keys);
      const serial = serialHex(certificate.serialNumber);
      const target = { origin: new URL(record.registry), ca: record.caCertificate };
      const log = await confirmed(witness, target, record.log, {
        index: logIndex,
        type: "renewed",
        handle: record.handle,
        serial,
        previous: record.serial,
      });
      const renewed: EnrollmentRecord = {
        ...record,
        serial,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
        renewedAt: now.toISOString(),
        certificate: certificate.toString("pem"),
        ...(log ? { log } : {}),
      };
      writeEnrollment(directory, renewed);
      return {
        registry: renewed.registry,
        handle: renewed.handle,
        generation: renewed.generation,
        algorithm: renewed.algorithm,
        serial: renewed.serial,
        previous: record.serial,
        notBefore: renewed.notBefore,
        notAfter: renewed.notAfter,
        renewedAt: now.toISOString(),
        logSize: log ? checkpointSize(log) : null,
      };
    });
  });
}

function enrollmentIn(directory: string): EnrollmentRecord {
  const record = readEnrollment(directory);
  if (record === null) {
    throw new StateError("not-enrolled", "this element is not enrolled: run reid enroll URL");
  }
  return record;
}

/** The request, the exchange and the check of the answer: the new certificate for `keys`, and its log index. */
async function reenrolled(
  record: EnrollmentRecord,
  ca: x509.X509Certificate,
  keys: DerivedKeys,
): Promise<{ certificate: x509.X509Certificate; logIndex: string | null }> {
  const origin = new URL(record.registry);
  const request = new x509.Pkcs10CertificateRequest(
    await certificationRequest(keys, { algorithm: record.algorithm }),
  );
  // TLS takes a private key only as PEM: a short-lived string of the secret in the heap, which
  // cannot be zeroed (as privateKeyObject's JWK); the buffer handed to TLS is.
  const key = Buffer.from(
    privateKeyObject(keys, record.algorithm).export({ format: "pem", type: "pkcs8" }) as string,
  );
  let answer: Issued;
  try {
    answer = await simpleReenroll(
      { origin, ca: record.caCertificate, client: { certificate: record.certificate, key } },
      new Uint8Array(request.rawData),
    );
  } finally {
    key.fill(0);
  }
  const issued = certificatesOf(answer.der, origin.host, "its certificate");
  const certificate = await checkedCertificate(issued, request, ca, record.handle, origin.host);
  return { certificate, logIndex: answer.logIndex };
}

/** The CA the enrollment pinned, as kept beside it: one that is not the pinned one is a damaged store. */
function pinnedCa(record: EnrollmentRecord, directory: string): x509.X509Certificate {
  let ca: x509.X509Certificate | null = null;
  try {
    ca = new x509.X509Certificate(record.caCertificate);
  } catch {
    // Below: one refusal for an unreadable and a swapped CA.
  }
  if (ca === null || fingerprintOf(ca) !== record.caFingerprint) {
    throw new StorageError(
      `${directory}/enrollment.json is corrupt: its CA certificate is not the pinned ${record.caFingerprint}`,
      "store-corrupt",
    );
  }
  return ca;
}

/** The enrollment certifies another identity than the element's: a reset or erase since. */
function identityChanged(directory: string, record: EnrollmentRecord, handle: string | null): StateError {
  const pending = readOutbox(directory).some(
    (entry) => entry.kind === "succession" && entry.state === "pending" && entry.handle === handle,
  );
  const next = pending
    ? "its succession to this identity waits for the registry (reid enroll --status)"
    : "run reid enroll again";
  return new StateError(
    "enrollment-stale",
    `the enrollment certifies ${record.handle}, an identity this element no longer holds: ${next}`,
  );
}
