/** Where the FIFO draws from when it runs empty: the TRNG module. */
export interface SampleSupply {
  fill(target: Uint8Array): Promise<void>;
}

/**
 * The cache unit between the TRNG module and the processing unit (claim 5): a fixed-capacity
 * ring read through a read pointer. Every byte is served at most once and zeroed as it is
 * served; only an empty FIFO asks the module for more, so nothing is ever served twice.
 * Specified in docs/spec.md §5.8.
 */
export class FifoCache {
  private head = 0;
  private size = 0;
  /** Reads are served one at a time, in call order. */
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by clear(), so a draw still under way when the FIFO is cleared serves nothing. */
  private epoch = 0;

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
    if (!Number.isSafeInteger(refill) || refill < 0) {
      throw new RangeError("the refill amount must be an integer >= 0");
    }
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

  /**
   * Serves exactly `target.length` bytes into `target`, drawing from the module as it empties.
   * Concurrent reads wait their turn: two readers drawing into the same empty ring at once would
   * each serve the other's bytes, or zeroes. On failure `target` is zeroed: a read that fails
   * half-way leaves no random bytes behind.
   */
  readInto(target: Uint8Array): Promise<void> {
    const turn = this.queue.then(() => this.serve(target));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Zeroes whatever is still waiting; the FIFO stays usable. */
  clear(): void {
    this.ring.fill(0);
    this.size = 0;
    this.epoch++;
  }

  private async serve(target: Uint8Array): Promise<void> {
    let done = 0;
    try {
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
    } catch (error) {
      target.fill(0);
      throw error;
    }
  }

  private async draw(wanted: number): Promise<void> {
    const epoch = this.epoch;
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
    // Cleared while the module was filling: what it wrote is thrown away, and the next round draws afresh.
    if (epoch !== this.epoch) this.ring.fill(0);
    else this.size = amount;
  }
}
