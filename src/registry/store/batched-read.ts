/** Keys read at most in one query: a list a statement can hold, and a bounded wait behind it. */
const MAX_BATCH = 64;

interface Asked<V> {
  readonly id: string;
  readonly resolve: (value: V | null) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Reads by key asked for during one turn of the event loop go to the database as one query, as
 * group commit does for writes (group-commit.ts): a server under load checks the tokens of all the
 * enrollments that arrived together with one round trip, not one each. Each asker gets the row of
 * its own key, or null. The list is padded to a power of two with its last key (a key twice in
 * `IN (…)` finds its row once), so a handful of statement texts, each prepared once per
 * connection, serve every count. A query that fails refuses every asker of its batch.
 */
export class BatchedRead<K, V> {
  private waiting: (Asked<V> & { readonly key: K })[] = [];
  private scheduled = false;

  /**
   * `read`: the rows of `keys`, by `id` of each row's key; `id`: a key as a string (equal keys,
   * equal strings).
   */
  constructor(
    private readonly read: (keys: readonly K[]) => Promise<ReadonlyMap<string, V>>,
    private readonly id: (key: K) => string,
  ) {}

  get(key: K): Promise<V | null> {
    return new Promise<V | null>((resolve, reject) => {
      this.waiting.push({ key, id: this.id(key), resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // After the I/O of this turn, so that every request it brought joins in.
      setImmediate(() => {
        this.scheduled = false;
        while (this.waiting.length > 0) void this.flush(this.waiting.splice(0, MAX_BATCH));
      });
    });
  }

  private async flush(batch: readonly (Asked<V> & { readonly key: K })[]): Promise<void> {
    const keys = batch.map((asked) => asked.key);
    const last = keys[keys.length - 1] as K;
    while ((keys.length & (keys.length - 1)) !== 0) keys.push(last);
    try {
      const rows = await this.read(keys);
      for (const asked of batch) asked.resolve(rows.get(asked.id) ?? null);
    } catch (error) {
      for (const asked of batch) asked.reject(error);
    }
  }
}
