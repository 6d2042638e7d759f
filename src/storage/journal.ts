import { createHash } from "node:crypto";

/**
 * The audit journal a commit carries beside its record (docs/spec.md §9.3): the audit log's lines
 * not yet known durable in the log, the commit's intent last, made durable in the same write as
 * the record. Bound to the record's epoch, so a journal left beside an older record is never read
 * as the newer one's.
 *
 * Layout (integers big-endian): "RJNL", epoch u64, length u32, the lines, then SHA-256 of all
 * before. A backend keeps it opaque, up to its journal capacity.
 */
const MAGIC = 0x524a4e4c; // "RJNL"
const HEADER = 16;
const DIGEST = 32;
/** What the framing adds to the lines. */
export const JOURNAL_OVERHEAD = HEADER + DIGEST;

export function encodeJournal(epoch: number, lines: Uint8Array): Uint8Array {
  const out = Buffer.alloc(JOURNAL_OVERHEAD + lines.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeBigUInt64BE(BigInt(epoch), 4);
  out.writeUInt32BE(lines.length, 12);
  out.set(lines, HEADER);
  createHash("sha256")
    .update(out.subarray(0, HEADER + lines.length))
    .digest()
    .copy(out, HEADER + lines.length);
  return out;
}

/** The lines of the journal of the record of `epoch`, or null: none, another record's, or torn. */
export function decodeJournal(bytes: Uint8Array, epoch: number): Uint8Array | null {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (data.length < JOURNAL_OVERHEAD || data.readUInt32BE(0) !== MAGIC) return null;
  if (data.readBigUInt64BE(4) !== BigInt(epoch)) return null;
  const length = data.readUInt32BE(12);
  if (HEADER + length + DIGEST > data.length) return null;
  const digest = createHash("sha256")
    .update(data.subarray(0, HEADER + length))
    .digest();
  if (!digest.equals(data.subarray(HEADER + length, HEADER + length + DIGEST))) return null;
  return Uint8Array.from(data.subarray(HEADER, HEADER + length));
}
