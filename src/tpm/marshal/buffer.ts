/**
 * Big-endian byte buffers in the TPM's wire order (TPM 2.0 Part 1, 18). The reader never reads
 * past its end: a short or malformed response becomes a MarshalError naming what was being read,
 * not a RangeError deep inside a DataView.
 */
export class MarshalError extends Error {
  override readonly name = "MarshalError";
}

export class TpmWriter {
  private bytes: Uint8Array;
  private view: DataView;
  length = 0;

  /** `capacity`: what the message will likely take, so that it is written without growing. */
  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, checked(value, 0xff));
    this.length += 1;
  }

  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, checked(value, 0xffff));
    this.length += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, checked(value, 0xffffffff));
    this.length += 4;
  }

  u64(value: bigint): void {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`${value} does not fit 64 bits`);
    this.reserve(8);
    this.view.setBigUint64(this.length, value);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** `n` zero bytes, for a field filled in once what follows it is written. */
  zeros(n: number): void {
    this.reserve(n);
    this.bytes.fill(0, this.length, this.length + n);
    this.length += n;
  }

  /** Writes a 32-bit value over bytes already written (a size known only afterwards). */
  patchU32(offset: number, value: number): void {
    this.view.setUint32(offset, checked(value, 0xffffffff));
  }

  patchU16(offset: number, value: number): void {
    this.view.setUint16(offset, checked(value, 0xffff));
  }

  /** The bytes written; the writer's own buffer is zeroed, since commands carry passwords and data. */
  finish(): Uint8Array {
    const out = this.bytes.slice(0, this.length);
    this.bytes.fill(0);
    return out;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes.fill(0);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}

export class TpmReader {
  private readonly view: DataView;
  offset = 0;

  /** `base`: where `bytes` began in the message, so errors name the byte of the whole message. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(what: string): number {
    this.need(1, what);
    const value = this.view.getUint8(this.offset);
    this.offset += 1;
    return value;
  }

  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const value = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return value;
  }

  /** A copy: callers keep and zero what they read without touching the response buffer. */
  raw(length: number, what: string): Uint8Array {
    this.need(length, what);
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** The next `length` bytes in place, not copied: for callers that zero the whole message after use. */
  inPlace(length: number, what: string): Uint8Array {
    this.need(length, what);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** A reader over the next `length` bytes, which this one skips. */
  sub(length: number, what: string): TpmReader {
    this.need(length, what);
    const inner = new TpmReader(
      this.bytes.subarray(this.offset, this.offset + length),
      this.base + this.offset,
    );
    this.offset += length;
    return inner;
  }

  /** Everything must have been read: trailing bytes mean the two sides disagree on the layout. */
  end(what: string): void {
    if (this.remaining !== 0) throw new MarshalError(`${this.remaining} unexpected bytes after ${what}`);
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) {
      throw new MarshalError(
        `truncated at byte ${this.base + this.offset} reading ${what} (needs ${n}, ${this.remaining} left)`,
      );
    }
  }
}

function checked(value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${value} does not fit an unsigned field of maximum ${max}`);
  }
  return value;
}
