import { GOLAY_K, GOLAY_N, golayDecode, golayEncode } from "./golay.js";

/**
 * The fuzzy extractor's error-correcting code: an outer extended Golay (24,12) code whose every
 * bit is sent through an inner repetition code of odd length r (majority vote). Words are bit
 * arrays (one 0/1 byte a bit). A block of 24·r cells survives up to 3 wrong majority votes; a
 * vote goes wrong only when more than half of its r cells flipped.
 */
export class ConcatenatedCode {
  /** Message bits (12 a Golay block). */
  readonly messageBits: number;
  /** Code bits: as many PUF cells as a response needs. */
  readonly length: number;

  constructor(
    readonly blocks: number,
    readonly repetition: number,
  ) {
    if (!Number.isInteger(blocks) || blocks < 1) throw new RangeError("blocks must be a positive integer");
    if (!Number.isInteger(repetition) || repetition < 1 || repetition % 2 === 0) {
      throw new RangeError("the repetition length must be odd");
    }
    this.messageBits = blocks * GOLAY_K;
    this.length = blocks * GOLAY_N * repetition;
  }

  encode(message: Uint8Array): Uint8Array {
    if (message.length !== this.messageBits) throw new RangeError(`a message has ${this.messageBits} bits`);
    const word = new Uint8Array(this.length);
    for (let block = 0; block < this.blocks; block++) {
      const codeword = golayEncode(readBits(message, block * GOLAY_K, GOLAY_K));
      for (let bit = 0; bit < GOLAY_N; bit++) {
        const value = (codeword >>> (GOLAY_N - 1 - bit)) & 1;
        word.fill(
          value,
          (block * GOLAY_N + bit) * this.repetition,
          (block * GOLAY_N + bit + 1) * this.repetition,
        );
      }
    }
    return word;
  }

  /** The message whose codeword is nearest `word`, or null when a block has detectably too many errors. */
  decode(word: Uint8Array): Uint8Array | null {
    if (word.length !== this.length) throw new RangeError(`a word has ${this.length} bits`);
    const message = new Uint8Array(this.messageBits);
    for (let block = 0; block < this.blocks; block++) {
      let received = 0;
      for (let bit = 0; bit < GOLAY_N; bit++) {
        const start = (block * GOLAY_N + bit) * this.repetition;
        let ones = 0;
        for (let i = start; i < start + this.repetition; i++) ones += word[i] as number;
        received = (received << 1) | (2 * ones > this.repetition ? 1 : 0);
      }
      const codeword = golayDecode(received);
      if (codeword === null) return null;
      writeBits(message, block * GOLAY_K, GOLAY_K, codeword >>> GOLAY_K);
    }
    return message;
  }
}

function readBits(bits: Uint8Array, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) value = (value << 1) | ((bits[i] as number) & 1);
  return value;
}

function writeBits(bits: Uint8Array, start: number, count: number, value: number): void {
  for (let i = 0; i < count; i++) bits[start + i] = (value >>> (count - 1 - i)) & 1;
}

/** Packs a bit array into bytes, most significant bit first. */
export function packBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++)
    if (bits[i]) out[i >> 3] = (out[i >> 3] as number) | (0x80 >> (i & 7));
  return out;
}

export function unpackBits(bytes: Uint8Array, count: number): Uint8Array {
  if (bytes.length !== Math.ceil(count / 8))
    throw new RangeError(`${count} bits take ${Math.ceil(count / 8)} bytes`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = ((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1;
  return out;
}
