import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { serialHex } from "../http/est-wire.js";
import { checkedCertificate, fingerprintOf } from "./enroll.js";
import {
  type EnrollmentRecord,
  readEnrollment,
  removeEnrollment,
  writeEnrollment,
} from "./enrollment-record.js";
import { type Answer, type EstTarget, exchange } from "./est-client.js";
import { confirmed, type LoadLogWitness } from "./log-witness.js";
import { liveEntries, type OutboxEntry, readOutbox, writeOutbox } from "./outbox.js";

/** What one pass over the outbox did; `retry`: an entry is still pending because the registry was out of reach. */
export interface DeliveryResult {
  readonly delivered: number;
  readonly discarded: number;
  readonly failed: number;
  readonly retry: boolean;
}

/**
 * Delivers the outbox in order (docs/spec.md §10.9): an entry for a change that never committed
 * is discarded; a succession the registry accepts (or had accepted: the replay's answer) replaces
 * the enrollment with the new certificate (once its event is in the registry's identity log, when
 * the enrollment verifies it: else the entry fails `log-untrusted`), a retirement it accepts removes the enrollment; a
 * refusal (4xx) marks the entry failed with the registry's message; a registry out of reach, or
 * failing on its side (5xx), leaves it and those after it pending.
 */
export async function deliverOutbox(
  storeDirectory: string,
  currentHandle: string | null,
  options: { readonly timeoutMs: number; readonly now: () => Date; readonly witness: LoadLogWitness },
): Promise<DeliveryResult> {
  const stored = readOutbox(storeDirectory);
  let entries = liveEntries(stored, currentHandle);
  const result = { delivered: 0, discarded: stored.length - entries.length, failed: 0, retry: false };
  if (result.discarded > 0) writeOutbox(storeDirectory, entries);
  for (const entry of [...entries]) {
    if (entry.state !== "pending") continue;
    const others = () => entries.filter((other) => other !== entry);
    const target: EstTarget = { origin: new URL(entry.registry), ca: entry.caCertificate };
    const path = entry.kind === "succession" ? "/v1/succession" : "/v1/retirement";
    let answer: Answer;
    try {
      answer = await exchange(
        target,
        "POST",
        path,
        { "content-type": "application/json" },
        JSON.stringify(entry.body),
        { timeoutMs: options.timeoutMs },
      );
    } catch {
      answer = { status: 0, type: "", body: Buffer.alloc(0) };
    }
    const outcome = await settle(storeDirectory, entry, answer, options);
    if (outcome === "retry") {
      entries = entries.map((other) =>
        other === entry ? { ...entry, attempts: entry.attempts + 1 } : other,
      );
      writeOutbox(storeDirectory, entries);
      result.retry = true;
      break;
    }
    if (outcome === "done") {
      entries = others();
      result.delivered++;
    } else {
      entries = entries.map((other) =>
        other === entry
          ? { ...entry, state: "failed", error: outcome.error, attempts: entry.attempts + 1 }
          : other,
      );
      result.failed++;
    }
    writeOutbox(storeDirectory, entries);
  }
  return result;
}

type Outcome = "done" | "retry" | { readonly error: string };

async function settle(
  storeDirectory: string,
  entry: OutboxEntry,
  answer: Answer,
  options: { readonly now: () => Date; readonly witness: LoadLogWitness },
): Promise<Outcome> {
  if (answer.status === 0 || answer.status >= 500) return "retry";
  let json: {
    certificate?: unknown;
    logIndex?: unknown;
    error?: { code?: unknown; message?: unknown };
  } = {};
  try {
    json = JSON.parse(answer.body.toString("utf8"));
  } catch {}
  const code = typeof json.error?.code === "string" ? json.error.code : null;
  if (entry.kind === "retirement") {
    // Accepted now, or before (a lost answer): the registry no longer holds the identity active.
    if (answer.status === 200 || code === "device-not-active") {
      if (readEnrollment(storeDirectory)?.handle === entry.handle) removeEnrollment(storeDirectory);
      return "done";
    }
  } else if (
    (answer.status === 200 || code === "already-succeeded") &&
    typeof json.certificate === "string"
  ) {
    const record = await successor(entry, json.certificate, options.now()).catch(() => null);
    if (record === null)
      return { error: `the registry at ${entry.registry} answered no certificate for ${entry.handle}` };
    const logIndex = typeof json.logIndex === "number" ? String(json.logIndex) : null;
    let log: EnrollmentRecord["log"];
    try {
      log = await verifiedLog(storeDirectory, entry, record, logIndex, options.witness);
    } catch (error) {
      // Out of reach before the log answered: sent again, the statement is answered as a replay.
      if ((error as { code?: unknown }).code === "registry-unreachable") return "retry";
      return { error: (error as Error).message };
    }
    writeEnrollment(storeDirectory, { ...record, ...(log ? { log } : {}) });
    return "done";
  }
  const message = typeof json.error?.message === "string" ? json.error.message : `HTTP ${answer.status}`;
  return { error: `the registry at ${new URL(entry.registry).host} refused: ${message.slice(0, 200)}` };
}

/**
 * The log record the successor's enrollment keeps: the predecessor's enrollment's, once the
 * succession's event is in a checkpoint extending it; none when that enrollment does not verify
 * the log (or is of another registry).
 */
async function verifiedLog(
  storeDirectory: string,
  entry: OutboxEntry,
  record: EnrollmentRecord,
  logIndex: string | null,
  witness: LoadLogWitness,
): Promise<EnrollmentRecord["log"]> {
  const current = readEnrollment(storeDirectory);
  const same = current?.registry === entry.registry && current.caFingerprint === entry.caFingerprint;
  const target = { origin: new URL(entry.registry), ca: entry.caCertificate };
  return confirmed(witness, target, same ? current.log : undefined, {
    index: logIndex,
    type: "succeeded",
    handle: entry.handle,
    serial: record.serial,
    ...(entry.predecessor ? { predecessor: entry.predecessor } : {}),
  });
}

/** The enrollment of the successor: its certificate checked as enrollment checks one. */
async function successor(entry: OutboxEntry, pem: string, now: Date): Promise<EnrollmentRecord> {
  const ca = new x509.X509Certificate(entry.caCertificate);
  const request = new x509.Pkcs10CertificateRequest(Buffer.from(entry.body.csr ?? "", "base64"));
  const certificate = await checkedCertificate(
    [new x509.X509Certificate(pem)],
    request,
    ca,
    entry.handle,
    entry.registry,
  );
  if (fingerprintOf(ca) !== entry.caFingerprint) throw new Error("another CA");
  return {
    format: "reid-enrollment",
    version: 1,
    registry: entry.registry,
    caFingerprint: entry.caFingerprint,
    handle: entry.handle,
    generation: entry.generation,
    algorithm: entry.algorithm,
    serial: serialHex(certificate.serialNumber),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    enrolledAt: now.toISOString(),
    caCertificate: entry.caCertificate,
    certificate: certificate.toString("pem"),
  };
}
