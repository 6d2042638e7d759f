import { handleOf } from "../../derive/derivation.js";
import { UsageError } from "../../errors.js";
import { type ListedKey, listedKey } from "./listed-key.js";

/** One device of a factory's list, checked: what `registry import` issues a certificate for. */
export interface ListedDevice extends ListedKey {
  /** Its line in the list, from 1: what a refusal names. */
  readonly line: number;
  readonly handle: string;
  readonly label?: string;
}

const HANDLE = /^[0-9a-f]{32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const MEMBERS = new Set(["handle", "publicKey", "label"]);

function badLine(line: number, what: string): UsageError {
  return new UsageError(`line ${line} of the device list: ${what}`, "bad-device-list");
}

/** Lines a certifying thread checks at a time: a message's cost is small beside theirs. */
const CHECK_CHUNK = 10_000;

/**
 * A factory's device list (docs/spec.md §10.6 `registry import`), NDJSON: one object a line,
 * `{"handle", "publicKey", "label"?}`, each checked before anything is written. The first bad
 * line is refused with its number and what is wrong with it (exit 2); then the first line naming
 * a handle an earlier one named.
 */
export function readDeviceList(bytes: Uint8Array): ListedDevice[] {
  const devices = listedDevices(deviceListLines(bytes), 1);
  checkUnique(devices);
  return devices;
}

/**
 * The same, the lines checked on `threads` (the certifying threads, which have a list's million
 * lines done in a fraction of the time this thread alone would take, while it splits and gathers).
 */
export async function readDeviceListOn(
  threads: { listed(lines: readonly string[], first: number): Promise<ListedDevice[]> },
  bytes: Uint8Array,
): Promise<ListedDevice[]> {
  const lines = deviceListLines(bytes);
  const chunks: Promise<ListedDevice[]>[] = [];
  for (let start = 0; start < lines.length; start += CHECK_CHUNK) {
    chunks.push(threads.listed(lines.slice(start, start + CHECK_CHUNK), start + 1));
  }
  // The refusal of the earliest chunk, not of the first to answer: the first bad line.
  const settled = await Promise.allSettled(chunks);
  const refused = settled.find((chunk) => chunk.status === "rejected");
  if (refused) throw refused.reason;
  const devices = settled.flatMap((chunk) => (chunk.status === "fulfilled" ? chunk.value : []));
  checkUnique(devices);
  return devices;
}

/** The list's lines: UTF-8, a final newline allowed (the end, not an empty line); at least one. */
function deviceListLines(bytes: Uint8Array): string[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("the device list is not UTF-8 text", "bad-device-list");
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length === 0) throw new UsageError("the device list holds no device", "bad-device-list");
  return lines;
}

/** The devices of `lines`, the first of them line `first` of the list: each checked alone. */
export function listedDevices(lines: readonly string[], first: number): ListedDevice[] {
  return lines.map((text, index) =>
    listedDevice(first + index, text.endsWith("\r") ? text.slice(0, -1) : text),
  );
}

/** A handle the list names twice is refused at its second line. */
function checkUnique(devices: readonly ListedDevice[]): void {
  const lineOf = new Map<string, number>();
  for (const device of devices) {
    const earlier = lineOf.get(device.handle);
    if (earlier !== undefined)
      throw badLine(device.line, `device ${device.handle} is also on line ${earlier}`);
    lineOf.set(device.handle, device.line);
  }
}

function listedDevice(line: number, text: string): ListedDevice {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badLine(line, text.trim() === "" ? "an empty line" : "not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badLine(line, 'not an object {"handle", "publicKey", "label"?}');
  }
  const entry = value as Record<string, unknown>;
  const stray = Object.keys(entry).find((name) => !MEMBERS.has(name));
  if (stray !== undefined) throw badLine(line, `an unknown member ${JSON.stringify(stray.slice(0, 40))}`);
  const { handle, publicKey, label } = entry;
  if (typeof handle !== "string" || !HANDLE.test(handle)) {
    throw badLine(line, "handle is not 32 lowercase hex digits");
  }
  if (typeof publicKey !== "string" || !BASE64.test(publicKey) || publicKey === "") {
    throw badLine(line, "publicKey is not base64");
  }
  // A copy of its own, not a slice of a shared pool: it goes to the certifying threads by itself.
  const key = listedKey(new Uint8Array(Buffer.from(publicKey, "base64")));
  if (key === null) {
    throw badLine(line, "publicKey is not the DER SubjectPublicKeyInfo of an Ed25519 key or a P-256 point");
  }
  if (key.algorithm === "ed25519" && handleOf(key.keyBits) !== handle) {
    throw badLine(line, `handle ${handle} is not the handle of its Ed25519 key`);
  }
  if (
    label !== undefined &&
    (typeof label !== "string" || label.length < 1 || label.length > 128 || CONTROL.test(label))
  ) {
    throw badLine(line, "label is not 1 to 128 characters without control characters");
  }
  return { line, handle, ...key, ...(label === undefined ? {} : { label }) };
}
