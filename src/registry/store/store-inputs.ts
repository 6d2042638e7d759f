import { UsageError } from "../../errors.js";
import {
  DEVICE_PAGE_LIMIT,
  DEVICE_STATUSES,
  type DeviceImport,
  type DeviceQuery,
  type Enrollment,
  FLAG_QUERY_HANDLES,
  FLAG_QUERY_LIMIT,
  IMPORT_BATCH_LIMIT,
  LOG_PAGE_LIMIT,
  type LogAppend,
  type NewCertificate,
  type Renewal,
  type Revocation,
  type Succession,
} from "./store.js";

/**
 * What every driver refuses before it writes (docs/spec.md §10.4): the database's own checks are
 * the second line, these name the bad field in one line.
 */

const HANDLE = /^[0-9a-f]{32}$/;
// A positive INTEGER of at most 20 octets (RFC 5280 §4.1.2.2), in hex without leading zeros.
const SERIAL = /^[1-9a-f][0-9a-f]{0,39}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const REASON = /^[a-zA-Z][a-zA-Z-]{0,63}$/;

export function checkHandle(handle: string, what = "handle"): void {
  if (!HANDLE.test(handle)) throw new UsageError(`bad ${what} '${handle}': expected 32 lowercase hex digits`);
}

/** Times that passed lately: an import's batch checks the same three (its time, notBefore, notAfter) for each device. */
const goodTimes = new Set<string>();

export function checkTime(time: string): void {
  if (goodTimes.has(time)) return;
  if (!TIME.test(time) || new Date(time).toISOString() !== time) {
    throw new UsageError(`bad time '${time}': expected YYYY-MM-DDTHH:MM:SS.mmmZ`);
  }
  if (goodTimes.size >= 16) goodTimes.clear();
  goodTimes.add(time);
}

export function checkHash(hash: Uint8Array): void {
  if (hash.length !== 32) throw new UsageError(`bad token hash: ${hash.length} bytes, expected 32`);
}

function checkSerial(serial: string, what = "certificate serial"): void {
  if (!SERIAL.test(serial)) {
    throw new UsageError(`bad ${what} '${serial}': expected 1 to 40 hex digits, no leading 0`);
  }
}

function checkCertificate(certificate: NewCertificate): void {
  checkSerial(certificate.serial);
  if (certificate.der.length === 0) throw new UsageError("empty certificate");
  checkTime(certificate.notBefore);
  checkTime(certificate.notAfter);
  if (certificate.notAfter <= certificate.notBefore)
    throw new UsageError("a certificate that ends before it begins");
}

/** `at` apart from the device: an import's batch checks thousands of devices of one time. */
function checkNewDevice(
  device: Pick<Enrollment, "handle" | "publicKey"> & { readonly certificate?: NewCertificate },
  at: string,
): void {
  checkHandle(device.handle);
  if (device.publicKey.length === 0) throw new UsageError("empty public key");
  // Only an import lists a device without its certificate (ImportedDevice's type says so).
  if (device.certificate) checkCertificate(device.certificate);
  checkTime(at);
}

export function checkEnrollment(enrollment: Enrollment): void {
  checkNewDevice(enrollment, enrollment.at);
  if (enrollment.tokenHash) checkHash(enrollment.tokenHash);
}

/** A batch of an import: 1 to IMPORT_BATCH_LIMIT new devices, each handle once, labels of 1 to 128. */
export function checkImport(batch: DeviceImport): void {
  const { devices, at } = batch;
  if (devices.length < 1 || devices.length > IMPORT_BATCH_LIMIT) {
    throw new UsageError(`bad import batch: ${devices.length} devices, expected 1 to ${IMPORT_BATCH_LIMIT}`);
  }
  checkTime(at);
  const handles = new Set<string>();
  for (const device of devices) {
    checkNewDevice(device, at);
    if (handles.has(device.handle)) throw new UsageError(`device ${device.handle} twice in one import batch`);
    handles.add(device.handle);
    if (device.label !== undefined && (device.label.length < 1 || device.label.length > 128)) {
      throw new UsageError(`bad label of device ${device.handle}: expected 1 to 128 characters`);
    }
  }
}

export function checkSuccession(succession: Succession): void {
  checkNewDevice(succession, succession.at);
  checkHandle(succession.predecessor, "predecessor");
  if (succession.predecessor === succession.handle) throw new UsageError("an identity cannot succeed itself");
}

export function checkRenewal(renewal: Renewal): void {
  checkHandle(renewal.handle);
  checkCertificate(renewal.certificate);
  if (renewal.previous !== undefined) checkSerial(renewal.previous, "previous serial");
  checkTime(renewal.at);
}

export function checkRevocation(revocation: Revocation): void {
  checkHandle(revocation.handle);
  if (!REASON.test(revocation.reason)) {
    throw new UsageError(`bad revocation reason '${revocation.reason}': expected a word of letters and '-'`);
  }
  checkTime(revocation.at);
}

/** A page's bounds; returns the limit to use. */
export function checkDeviceQuery(query: DeviceQuery): number {
  if (query.status !== undefined && !DEVICE_STATUSES.includes(query.status)) {
    throw new UsageError(`bad device status '${query.status}': expected ${DEVICE_STATUSES.join(", ")}`);
  }
  if (query.after !== undefined) checkHandle(query.after, "after");
  const limit = query.limit ?? DEVICE_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > DEVICE_PAGE_LIMIT) {
    throw new UsageError(`bad page limit ${limit}: expected a whole number from 1 to ${DEVICE_PAGE_LIMIT}`);
  }
  return limit;
}

/** A read of flags: the devices of one chain at most, each a handle, and a page's limit. */
export function checkFlagQuery(handles: readonly string[], limit: number): void {
  if (handles.length < 1 || handles.length > FLAG_QUERY_HANDLES) {
    throw new UsageError(`bad flag query: ${handles.length} devices, expected 1 to ${FLAG_QUERY_HANDLES}`);
  }
  for (const handle of handles) checkHandle(handle);
  if (!Number.isInteger(limit) || limit < 1 || limit > FLAG_QUERY_LIMIT) {
    throw new UsageError(`bad flag limit ${limit}: expected a whole number from 1 to ${FLAG_QUERY_LIMIT}`);
  }
}

/** A range of the log's leaves, `start` to `end − 1`: whole numbers, at most LOG_PAGE_LIMIT of them. */
export function checkLeafRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new UsageError(`bad leaf range ${start} to ${end}: expected whole numbers, 0 ≤ start ≤ end`);
  }
  if (end - start > LOG_PAGE_LIMIT) {
    throw new UsageError(`bad leaf range ${start} to ${end}: at most ${LOG_PAGE_LIMIT} leaves at a time`);
  }
}

/** A pass of the integrator: its hashes of 32 bytes, a checkpoint of the size they make. */
export function checkLogAppend(append: LogAppend): void {
  const { start, hashes, checkpoint } = append;
  checkLeafRange(start, start + hashes.length);
  if (hashes.some((hash) => hash.length !== 32)) throw new UsageError("a leaf hash is 32 bytes");
  if (checkpoint.size !== start + hashes.length) {
    throw new UsageError(
      `a checkpoint of size ${checkpoint.size} after leaves ${start} to ${start + hashes.length - 1}`,
    );
  }
  if (checkpoint.root.length !== 32) throw new UsageError("a checkpoint's root is 32 bytes");
  if (checkpoint.note.length === 0) throw new UsageError("a checkpoint without its note");
  checkTime(checkpoint.at);
}
