import { createHash } from "node:crypto";
import { AREA_SIZE, type IdentifierRecord } from "../../src/storage/record.js";

/**
 * A record in layout v1, as reid wrote it before store ids, encoded here independently of
 * src/storage/record.ts: "REID", version 1, state, format, flags, epoch, generation, length, zeros,
 * handle at 32, the identifier at 48, SHA-256 of bytes 0..223 at 224. Unsealed records only.
 */
export function encodeRecordV1(record: IdentifierRecord, epoch: number): Uint8Array {
  const bytes = new Uint8Array(AREA_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x52454944);
  view.setUint8(4, 1);
  view.setUint8(5, record.state === "set" ? 1 : 0);
  view.setUint8(6, ["raw", "digits", "base32"].indexOf(record.format.kind));
  view.setUint8(7, (record.singleType ? 1 : 0) | (record.mode === "factory" ? 4 : 0));
  view.setBigUint64(8, BigInt(epoch));
  view.setBigUint64(16, BigInt(record.generation));
  view.setUint16(24, record.format.length);
  if (record.handle) bytes.set(Buffer.from(record.handle, "hex"), 32);
  if (record.identifier) bytes.set(record.identifier, 48);
  return withChecksum(bytes);
}

/** Sets a record's SHA-256 checksum (bytes 224..255) to match the bytes before it (any layout). */
export function withChecksum(bytes: Uint8Array): Uint8Array {
  bytes.set(
    createHash("sha256")
      .update(bytes.subarray(0, AREA_SIZE - 32))
      .digest(),
    AREA_SIZE - 32,
  );
  return bytes;
}
