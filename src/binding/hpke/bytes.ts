/** What @hpke/core hands its primitives: any buffer or view of one. */
export type Bytes = ArrayBufferLike | ArrayBufferView;

/** A view of the bytes, not a copy. */
export function bytesOf(value: Bytes): Uint8Array {
  return ArrayBuffer.isView(value)
    ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    : new Uint8Array(value);
}

/** An ArrayBuffer holding exactly these bytes (a Buffer may sit inside a larger pooled one). */
export function arrayBufferOf(buffer: Uint8Array): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
