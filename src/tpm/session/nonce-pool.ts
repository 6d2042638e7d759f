import { randomFillSync } from "node:crypto";

/**
 * nonceCallers drawn from one buffer of random bytes filled in bulk: one call into the CSPRNG for
 * `count` commands instead of one per command. The pool only moves forward: each nonce is the next
 * unused stretch, handed out as a copy, and the buffer is refilled only once every stretch has been
 * handed out, so no stretch is ever handed out twice.
 */
export class NoncePool {
  private readonly pool: Uint8Array;
  private at: number;

  constructor(
    readonly size: number,
    count = 64,
    private readonly fill: (bytes: Uint8Array) => void = randomFillSync,
  ) {
    this.pool = new Uint8Array(size * count);
    this.at = this.pool.length;
  }

  next(): Uint8Array {
    if (this.at === this.pool.length) {
      this.fill(this.pool);
      this.at = 0;
    }
    const nonce = this.pool.slice(this.at, this.at + this.size);
    this.at += this.size;
    return nonce;
  }
}
