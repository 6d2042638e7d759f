import type { ControlledTransaction, Kysely, Transaction } from "kysely";

/** A batch is bounded so that one slow client's change cannot hold a long queue behind a commit. */
const MAX_BATCH = 256;

interface Pending<DB> {
  readonly task: (trx: Transaction<DB>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: the changes asked for while the event loop ran (one request each, from every
 * connection that had something to say) go into one transaction, each in its own savepoint, and
 * are answered once that transaction is durable. A commit's fsync is paid once for the group,
 * not once per enrollment, and nothing is answered before it is on disk.
 *
 * Each change stays all-or-nothing: one that throws is rolled back to its savepoint and refused
 * alone, the others commit. A commit that fails refuses every change of the group (none of them
 * is in the database). Changes run one after another inside the transaction, in the order asked,
 * so a later one sees an earlier one's rows (two successors of one identity: the second is a fork).
 */
export class GroupCommit<DB> {
  private queue: Pending<DB>[] = [];
  private scheduled = false;
  private running = false;

  /**
   * `durable`, when the database's commit returns before the disk has it (SQLite with
   * synchronous=NORMAL): resolves once all committed so far is on disk. A group is answered only
   * then, while the next group already runs. `begin`: what the driver does first in each group's
   * transaction (PostgreSQL takes its lock of the event order there).
   */
  constructor(
    private readonly db: Kysely<DB>,
    private readonly durable: () => Promise<void> = async () => {},
    private readonly begin: (trx: Transaction<DB>) => Promise<void> = async () => {},
  ) {}

  run<T>(task: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** After the I/O of this turn of the event loop, so that every request it brought joins in. */
  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.running = true;
    const batch = this.queue.splice(0, MAX_BATCH);
    try {
      await this.commit(batch);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private async commit(batch: readonly Pending<DB>[]): Promise<void> {
    // First without savepoints, two statements a change fewer: a group whose changes all go
    // through (nearly every one) commits as it is. One refused change rolls the whole group back,
    // and the group runs again below, each change in its own savepoint.
    if (batch.length > 1 && (await this.commitWhole(batch))) return;
    const outcomes: Outcome[] = [];
    let trx: ControlledTransaction<DB> | null = null;
    try {
      trx = await this.db.startTransaction().execute();
      await this.begin(trx);
      if (batch.length === 1) {
        // Alone, the transaction is its savepoint.
        outcomes.push(await settle(() => (batch[0] as Pending<DB>).task(trx as Transaction<DB>)));
        if (!outcomes[0]?.ok) {
          // Nothing was written: refused at once, no disk to wait for.
          await trx.rollback().execute();
          (batch[0] as Pending<DB>).reject(outcomes[0]?.value);
          return;
        }
      } else {
        for (const [index, pending] of batch.entries()) {
          outcomes.push(await this.isolated(trx, `change${index}`, pending.task));
        }
      }
      await trx.commit().execute();
    } catch (error) {
      // The transaction itself failed (begin, a savepoint, the commit): none of the group is in.
      await refuseGroup(trx, batch, error);
      return;
    }
    this.answerWhenDurable(batch, outcomes);
  }

  /**
   * The group in one transaction without savepoints: committed (and answered once durable) if
   * every change went through; false, rolled back and nothing answered, if one was refused.
   */
  private async commitWhole(batch: readonly Pending<DB>[]): Promise<boolean> {
    let trx: ControlledTransaction<DB> | null = null;
    const outcomes: Outcome[] = [];
    try {
      trx = await this.db.startTransaction().execute();
      await this.begin(trx);
      for (const pending of batch) {
        const outcome = await settle(() => pending.task(trx as Transaction<DB>));
        if (!outcome.ok) {
          await trx.rollback().execute();
          return false;
        }
        outcomes.push(outcome);
      }
      await trx.commit().execute();
    } catch (error) {
      // The transaction itself failed (begin, the commit): none of the group is in, and it is not
      // run again (a commit that failed to answer may have been done).
      await refuseGroup(trx, batch, error);
      return true;
    }
    this.answerWhenDurable(batch, outcomes);
    return true;
  }

  private answerWhenDurable(batch: readonly Pending<DB>[], outcomes: readonly Outcome[]): void {
    const answer = () => {
      for (const [index, pending] of batch.entries()) {
        const outcome = outcomes[index] as Outcome;
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.value);
      }
    };
    // Not awaited: the next group need not wait for this one's disk.
    this.durable().then(answer, (error: unknown) => {
      for (const pending of batch) pending.reject(error);
    });
  }

  /** One change of a group in its savepoint: what it wrote stays only if it did not throw. */
  protected async isolated(
    trx: ControlledTransaction<DB>,
    name: string,
    task: (trx: Transaction<DB>) => Promise<unknown>,
  ): Promise<Outcome> {
    const point = await trx.savepoint(name).execute();
    const outcome = await settle(() => task(point));
    if (outcome.ok) await point.releaseSavepoint(name).execute();
    else await point.rollbackToSavepoint(name).execute();
    return outcome;
  }
}

/** A group whose transaction failed: rolled back if still open, and every change refused with the error. */
async function refuseGroup<DB>(
  trx: ControlledTransaction<DB> | null,
  batch: readonly Pending<DB>[],
  error: unknown,
): Promise<void> {
  if (trx && !trx.isCommitted && !trx.isRolledBack)
    await trx
      .rollback()
      .execute()
      .catch(() => {});
  for (const pending of batch) pending.reject(error);
}

export interface Outcome {
  readonly ok: boolean;
  readonly value: unknown;
}

export async function settle(task: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await task() };
  } catch (error) {
    return { ok: false, value: error };
  }
}
