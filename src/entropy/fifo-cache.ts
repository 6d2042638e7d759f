/** Where the FIFO draws from when it runs empty: the TRNG module. */
export interface SampleSupply {
  fill(target: Uint8Array): Promise<void>;
}

/**
 * The cache unit between the TRNG module and the processing unit (claim 5): a fixed-capacity
 * ring read through a read pointer. Every byte is served at most once and zeroed as it is
 * served; only an empty FIFO asks the module for more, so nothing is ever served twice.
 */
export class FifoCache {
  private head = 0;
  private size = 0;

  /**
   * @param ring the FIFO's storage; its length is the capacity
   * @param refill how much to draw when empty, at least: small for identifiers (no random
   *   bytes linger in memory), the whole ring for streaming
   */
  constructor(
    private readonly supply: SampleSupply,
    private readonly ring: Uint8Array,
    private readonly refill = 64,
  ) {
    if (ring.length === 0) throw new RangeError("the FIFO needs a capacity of at least one byte");
  }

  get capacity(): number {
    return this.ring.length;
  }

  /** Bytes waiting to be served. */
  get available(): number {
    return this.size;
  }

  /** Serves `length` bytes into a new buffer. */
  async read(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(out);
    return out;
  }

  /** Serves exactly `target.length` bytes into `target`, drawing from the module as it empties. */
  async readInto(target: Uint8Array): Promise<void> {
    let done = 0;
    while (done < target.length) {
      if (this.size === 0) await this.draw(target.length - done);
      const take = Math.min(this.size, target.length - done, this.ring.length - this.head);
      const served = this.ring.subarray(this.head, this.head + take);
      target.set(served, done);
      served.fill(0);
      done += take;
      this.head = (this.head + take) % this.ring.length;
      this.size -= take;
    }
  }

  /** Zeroes whatever is still waiting; the FIFO stays usable. */
  clear(): void {
    this.ring.fill(0);
    this.size = 0;
  }

  private async draw(wanted: number): Promise<void> {
    const amount = Math.min(this.ring.length, Math.max(wanted, this.refill));
    // Empty, so the free space starts at the read pointer; it may wrap once.
    const first = Math.min(amount, this.ring.length - this.head);
    try {
      await this.supply.fill(this.ring.subarray(this.head, this.head + first));
      if (amount > first) await this.supply.fill(this.ring.subarray(0, amount - first));
    } catch (error) {
      this.ring.fill(0);
      throw error;
    }
    this.size = amount;
  }
}
