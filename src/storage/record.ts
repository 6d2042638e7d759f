import { createHash, timingSafeEqual } from "node:crypto";
import type { FormatKind, IdentifierFormat } from "../format/format.js";
import type { Sealer } from "./sealer.js";

/**
 * One storage area holds one record: the element's whole state, committed as a unit, so an
 * identifier never exists without the generation, handle and settings that belong to it.
 *
 * Layout v2 (AREA_SIZE bytes, integers big-endian):
 *   0  "REID"   4  version=2   5  state (0 blank, 1 set)   6  format (0 raw, 1 digits, 2 base32)
 *   7  flags (bit 0: single-type requests, bit 1: sealed, bit 2: factory mode)   8  epoch u64
 *   16  generation u64
 *   24 identifier length u16   26..31 zero   32 handle (16 bytes, zero when blank)
 *   48 store id (16 bytes; zero: owned by no store)
 *   64 payload: the identifier, or sealed (nonce, ciphertext, tag) with bytes 0..63 as associated
 *      data; then zeros   160 owner hint length u8   161 owner hint (UTF-8, at most 63 bytes); then
 *      zeros   AREA_SIZE-32.. SHA-256 of all before
 * Layout v1 is the same without the store id and the hint: the payload at 48, bytes 0..47 as
 * associated data. It is still read (a record from before store ids belongs to no store: the first
 * store that commits over it takes it), never written.
 *
 * The epoch counts commits (erase and settings included) and orders the two areas; the
 * generation counts identifiers. The handle is public and kept in clear, so status never needs
 * the identifier or a key. The mode (patent claim 20: PUF or TRNG provides the identifier) is a
 * flag of the record, so a mode switch commits the mode and its identifier as one unit. The store
 * id ties the record to one store directory, so a second directory naming the same TPM index (or
 * token object) is refused instead of taking over the identifier; the hint names the owning
 * directory in that refusal. A zeroed area is "erased"; anything else that fails the checks is
 * "corrupt" and is never returned as an identifier.
 * Specified in docs/spec.md §5.1.
 */
export const AREA_SIZE = 256;
/** Identifier bytes a record carries. */
export const RECORD_CAPACITY = 64;
/** What sealing adds to an identifier: a 12-byte nonce and a 16-byte tag (AES-256-GCM). */
export const SEALED_OVERHEAD = 28;

const MAGIC = 0x52454944; // "REID"
const VERSION = 2;
const HEADER = 32;
const HANDLE = 16;
const STORE_ID = HEADER + HANDLE;
/** Bytes of a store id. */
export const STORE_ID_LENGTH = 16;
const PAYLOAD = STORE_ID + STORE_ID_LENGTH;
/** Where v1 records keep their payload (they have no store id). */
const PAYLOAD_V1 = HEADER + HANDLE;
const HINT = 160;
/** The longest owner hint, in UTF-8 bytes. */
export const HINT_CAPACITY = 63;
const DIGEST = 32;
const BODY = AREA_SIZE - DIGEST;
const FLAG_SINGLE_TYPE = 1;
const FLAG_SEALED = 2;
const FLAG_FACTORY = 4;
const FORMAT_CODES: readonly FormatKind[] = ["raw", "digits", "base32"];

export type ElementState = "blank" | "set";
/** factory: the identifier comes from the factory source (PUF, TPM, host); random: from the TRNG. */
export type ElementMode = "random" | "factory";

export interface IdentifierRecord {
  readonly state: ElementState;
  readonly generation: number;
  /** The identifier's format; for a blank element, the format the next identifier takes. */
  readonly format: IdentifierFormat;
  /** Single-type mode: every request is carried out as a reset. */
  readonly singleType: boolean;
  /** Where the identifier came from; absent means random. A factory record is always set. */
  readonly mode?: ElementMode;
  /** The public name derived from the identifier (docs/spec.md §4.2); null exactly when blank. */
  readonly handle: string | null;
  /** The canonical identifier bytes; null exactly when the state is blank. */
  readonly identifier: Uint8Array | null;
}

export interface StoredRecord extends IdentifierRecord {
  readonly epoch: number;
  readonly mode: ElementMode;
  /** The store seals its identifiers under a key-encryption key (kept across erase). */
  readonly sealed: boolean;
}

/** A committed record without its identifier: all a request needs to decide what to do. */
export type RecordInfo = Omit<StoredRecord, "identifier">;

/** The store a record belongs to: its id, and a hint naming its directory for messages. */
export interface RecordOwner {
  readonly id: Uint8Array;
  readonly hint: string;
}

/** A sealed identifier as stored, with the bytes it is bound to. */
export interface SealedPayload {
  readonly payload: Uint8Array;
  readonly associated: Uint8Array;
}

export type DecodedArea =
  | {
      readonly kind: "record";
      /** The identifier is null when sealed: open `sealed` with the store's Sealer. */
      readonly record: StoredRecord;
      readonly sealed: SealedPayload | null;
      /** The store that wrote it; null for a record of no store (layout v1, or a zero id). */
      readonly owner: RecordOwner | null;
    }
  | { readonly kind: "erased" }
  | { readonly kind: "corrupt"; readonly reason: string };

/**
 * Encodes `record` for the store `owner` (none: a record no store owns yet). A sealed record's
 * identifier is sealed by `sealer`, bound to the header, handle and store id; a sealed blank record
 * only keeps the store's choice to seal.
 */
export function encodeRecord(
  record: IdentifierRecord & { readonly sealed: boolean },
  epoch: number,
  sealer: Sealer | null = null,
  owner: RecordOwner | null = null,
): Uint8Array {
  checkRecord(record, sealer);
  if (owner && (owner.id.length !== STORE_ID_LENGTH || isZero(owner.id))) {
    throw new RangeError(`a store id is ${STORE_ID_LENGTH} bytes, not all zero`);
  }
  const bytes = new Uint8Array(AREA_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC);
  view.setUint8(4, VERSION);
  view.setUint8(5, record.state === "set" ? 1 : 0);
  view.setUint8(6, FORMAT_CODES.indexOf(record.format.kind));
  view.setUint8(
    7,
    (record.singleType ? FLAG_SINGLE_TYPE : 0) |
      (record.sealed ? FLAG_SEALED : 0) |
      (record.mode === "factory" ? FLAG_FACTORY : 0),
  );
  view.setBigUint64(8, BigInt(epoch));
  view.setBigUint64(16, BigInt(record.generation));
  view.setUint16(24, record.format.length);
  if (record.handle) bytes.set(Buffer.from(record.handle, "hex"), HEADER);
  if (owner) {
    bytes.set(owner.id, STORE_ID);
    const hint = boundedHint(owner.hint);
    bytes[HINT] = hint.length;
    bytes.set(hint, HINT + 1);
  }
  if (record.identifier) {
    const payload = sealer ? sealer.seal(record.identifier, bytes.subarray(0, PAYLOAD)) : record.identifier;
    bytes.set(payload, PAYLOAD);
  }
  bytes.set(digest(bytes), BODY);
  return bytes;
}

export function decodeArea(bytes: Uint8Array): DecodedArea {
  if (bytes.length !== AREA_SIZE) return corrupt(`it has ${bytes.length} bytes, not ${AREA_SIZE}`);
  if (isZero(bytes)) return { kind: "erased" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0) !== MAGIC) return corrupt("it does not start with a record");
  if (!timingSafeEqual(digest(bytes), bytes.subarray(BODY))) return corrupt("its checksum does not match");
  const version = view.getUint8(4);
  if (version !== VERSION && version !== 1) return corrupt(`its layout version ${version} is unknown`);
  const payloadAt = version === 1 ? PAYLOAD_V1 : PAYLOAD;
  const stateCode = view.getUint8(5);
  const kind = FORMAT_CODES[view.getUint8(6)];
  const flags = view.getUint8(7);
  const epoch = view.getBigUint64(8);
  const generation = view.getBigUint64(16);
  const length = view.getUint16(24);
  if (stateCode > 1 || !kind || (flags & ~(FLAG_SINGLE_TYPE | FLAG_SEALED | FLAG_FACTORY)) !== 0) {
    return corrupt("it has unknown fields");
  }
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER) || generation > BigInt(Number.MAX_SAFE_INTEGER)) {
    return corrupt("its counters are out of range");
  }
  if (length === 0 || length > RECORD_CAPACITY) return corrupt("its identifier length is out of range");
  const set = stateCode === 1;
  const sealed = (flags & FLAG_SEALED) !== 0;
  const handle = bytes.subarray(HEADER, HEADER + HANDLE);
  if (set === isZero(handle)) return corrupt(set ? "it has no handle" : "a blank record has a handle");
  const factory = (flags & FLAG_FACTORY) !== 0;
  if (factory && !set) return corrupt("a blank record is in factory mode");
  const payloadEnd = payloadAt + (set ? length + (sealed ? SEALED_OVERHEAD : 0) : 0);
  const owner = version === 1 ? { owner: null, end: BODY } : decodeOwner(bytes);
  if (owner === null) return corrupt("its owner hint is malformed");
  if (!isZero(bytes.subarray(26, HEADER)) || !isZero(bytes.subarray(payloadEnd, owner.end))) {
    return corrupt("its unused bytes are not zero");
  }
  const payload = bytes.slice(payloadAt, payloadEnd);
  return {
    kind: "record",
    record: {
      state: set ? "set" : "blank",
      generation: Number(generation),
      epoch: Number(epoch),
      format: { kind, length },
      singleType: (flags & FLAG_SINGLE_TYPE) !== 0,
      mode: factory ? "factory" : "random",
      sealed,
      handle: set ? Buffer.from(handle).toString("hex") : null,
      identifier: set && !sealed ? payload : null,
    },
    sealed: set && sealed ? { payload, associated: bytes.slice(0, payloadAt) } : null,
    owner: owner.owner,
  };
}

/** The owner of a v2 record, and where its unused bytes end (the hint's start); null: malformed. */
function decodeOwner(bytes: Uint8Array): { owner: RecordOwner | null; end: number } | null {
  const length = bytes[HINT] ?? 0;
  if (length > HINT_CAPACITY || !isZero(bytes.subarray(HINT + 1 + length, BODY))) return null;
  let hint: string;
  try {
    hint = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(HINT + 1, HINT + 1 + length));
  } catch {
    return null;
  }
  const id = bytes.slice(STORE_ID, PAYLOAD);
  if (isZero(id)) return length === 0 ? { owner: null, end: HINT } : null;
  return { owner: { id, hint }, end: HINT };
}

/**
 * A directory's path as a record keeps it: at most HINT_CAPACITY bytes of UTF-8, cut from the left
 * (the end of a path tells stores apart) at a character boundary, marked with "...".
 */
const UTF8 = new TextEncoder();

export function boundedHint(path: string): Uint8Array {
  const bytes = UTF8.encode(path);
  if (bytes.length <= HINT_CAPACITY) return bytes;
  let start = bytes.length - (HINT_CAPACITY - 3);
  // Never start inside a character: skip UTF-8 continuation bytes (10xxxxxx).
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  const out = new Uint8Array(3 + bytes.length - start);
  out.set(UTF8.encode("..."), 0);
  out.set(bytes.subarray(start), 3);
  return out;
}

export function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function checkRecord(record: IdentifierRecord & { readonly sealed: boolean }, sealer: Sealer | null): void {
  const { state, identifier, format, generation, handle } = record;
  if (record.sealed && identifier && !sealer) throw new RangeError("a sealed identifier needs a sealer");
  if (!record.sealed && sealer) throw new RangeError("a sealer seals only sealed records");
  if ((state === "set") !== (identifier !== null)) throw new RangeError("a set record needs an identifier");
  if ((state === "set") !== (handle !== null)) throw new RangeError("a set record needs a handle");
  if (record.mode === "factory" && state !== "set")
    throw new RangeError("a factory record holds an identifier");
  if (handle !== null && !/^[0-9a-f]{32}$/.test(handle)) throw new RangeError("a handle is 32 hex digits");
  if (identifier && identifier.length !== format.length) {
    throw new RangeError("the identifier does not match its format's length");
  }
  if (format.length < 1 || format.length > RECORD_CAPACITY)
    throw new RangeError("format length out of range");
  if (sealer && sealer.overhead !== SEALED_OVERHEAD) throw new RangeError("unknown sealing");
  if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError("bad generation");
}

function digest(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes.subarray(0, BODY)).digest();
}

function corrupt(reason: string): DecodedArea {
  return { kind: "corrupt", reason };
}
