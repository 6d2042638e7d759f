import { createHash, timingSafeEqual } from "node:crypto";
import type { FormatKind, IdentifierFormat } from "../format/format.js";

/**
 * One storage area holds one record: the element's whole state, committed as a unit, so an
 * identifier never exists without the generation and settings that belong to it.
 *
 * Layout v1 (AREA_SIZE bytes, integers big-endian):
 *   0  "REID"   4  version=1   5  state (0 blank, 1 set)   6  format (0 raw, 1 digits, 2 base32)
 *   7  flags (bit 0: single-type requests)   8  epoch u64   16  generation u64
 *   24 identifier length u16   26..31 zero   32.. identifier, then zeros   AREA_SIZE-32.. SHA-256 of all before
 * The epoch counts commits (erase and settings included) and orders the two areas; the
 * generation counts identifiers. A zeroed area is "erased"; anything else that fails the checks is
 * "corrupt" and is never returned as an identifier.
 */
export const AREA_SIZE = 256;
/** Identifier bytes a record carries; the rest of the payload is room for later layouts (sealing). */
export const RECORD_CAPACITY = 64;

const MAGIC = 0x52454944; // "REID"
const VERSION = 1;
const HEADER = 32;
const DIGEST = 32;
const BODY = AREA_SIZE - DIGEST;
const FLAG_SINGLE_TYPE = 1;
const FORMAT_CODES: readonly FormatKind[] = ["raw", "digits", "base32"];

export type ElementState = "blank" | "set";

export interface IdentifierRecord {
  readonly state: ElementState;
  readonly generation: number;
  /** The identifier's format; for a blank element, the format the next identifier takes. */
  readonly format: IdentifierFormat;
  /** Single-type mode: every request is carried out as a reset. */
  readonly singleType: boolean;
  /** The canonical identifier bytes; null exactly when the state is blank. */
  readonly identifier: Uint8Array | null;
}

export interface StoredRecord extends IdentifierRecord {
  readonly epoch: number;
}

/** A committed record without its identifier: all a request needs to decide what to do. */
export type RecordInfo = Omit<StoredRecord, "identifier">;

export type DecodedArea =
  | { readonly kind: "record"; readonly record: StoredRecord }
  | { readonly kind: "erased" }
  | { readonly kind: "corrupt"; readonly reason: string };

export function encodeRecord(record: IdentifierRecord, epoch: number): Uint8Array {
  checkRecord(record);
  const bytes = new Uint8Array(AREA_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC);
  view.setUint8(4, VERSION);
  view.setUint8(5, record.state === "set" ? 1 : 0);
  view.setUint8(6, FORMAT_CODES.indexOf(record.format.kind));
  view.setUint8(7, record.singleType ? FLAG_SINGLE_TYPE : 0);
  view.setBigUint64(8, BigInt(epoch));
  view.setBigUint64(16, BigInt(record.generation));
  view.setUint16(24, record.format.length);
  if (record.identifier) bytes.set(record.identifier, HEADER);
  bytes.set(digest(bytes), BODY);
  return bytes;
}

export function decodeArea(bytes: Uint8Array): DecodedArea {
  if (bytes.length !== AREA_SIZE) return corrupt(`it has ${bytes.length} bytes, not ${AREA_SIZE}`);
  if (isZero(bytes)) return { kind: "erased" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0) !== MAGIC) return corrupt("it does not start with a record");
  if (!timingSafeEqual(digest(bytes), bytes.subarray(BODY))) return corrupt("its checksum does not match");
  if (view.getUint8(4) !== VERSION) return corrupt(`its layout version ${view.getUint8(4)} is unknown`);
  const stateCode = view.getUint8(5);
  const kind = FORMAT_CODES[view.getUint8(6)];
  const flags = view.getUint8(7);
  const epoch = view.getBigUint64(8);
  const generation = view.getBigUint64(16);
  const length = view.getUint16(24);
  if (stateCode > 1 || !kind || (flags & ~FLAG_SINGLE_TYPE) !== 0) return corrupt("it has unknown fields");
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER) || generation > BigInt(Number.MAX_SAFE_INTEGER)) {
    return corrupt("its counters are out of range");
  }
  if (length === 0 || length > RECORD_CAPACITY) return corrupt("its identifier length is out of range");
  const set = stateCode === 1;
  const payloadEnd = HEADER + (set ? length : 0);
  if (!isZero(bytes.subarray(26, HEADER)) || !isZero(bytes.subarray(payloadEnd, BODY))) {
    return corrupt("its unused bytes are not zero");
  }
  return {
    kind: "record",
    record: {
      state: set ? "set" : "blank",
      generation: Number(generation),
      epoch: Number(epoch),
      format: { kind, length },
      singleType: (flags & FLAG_SINGLE_TYPE) !== 0,
      identifier: set ? bytes.slice(HEADER, payloadEnd) : null,
    },
  };
}

export function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function checkRecord(record: IdentifierRecord): void {
  const { state, identifier, format, generation } = record;
  if ((state === "set") !== (identifier !== null)) throw new RangeError("a set record needs an identifier");
  if (identifier && identifier.length !== format.length) {
    throw new RangeError("the identifier does not match its format's length");
  }
  if (format.length < 1 || format.length > RECORD_CAPACITY)
    throw new RangeError("format length out of range");
  if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError("bad generation");
}

function digest(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes.subarray(0, BODY)).digest();
}

function corrupt(reason: string): DecodedArea {
  return { kind: "corrupt", reason };
}
