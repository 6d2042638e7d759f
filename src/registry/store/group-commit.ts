import type { ControlledTransaction, Kysely, Transaction } from "kysely";

/** A batch is bounded so that one slow client's change cannot hold a long queue behind a commit. */
const MAX_BATCH = 256;

/**
 * What a change gives back once its rows are written: the events it records (`R`), not yet
 * inserted, and its answer, made once they are (`W`: what the insert gave each, in the same order).
 */
export interface Change<T, R, W> {
  readonly events: readonly R[];
  readonly answer: (written: readonly W[]) => T;
}

/** Writes a group's events, all of its changes' in their order, at the end of its transaction. */
export type RecordEvents<DB, R, W> = (trx: Transaction<DB>, events: readonly R[]) => Promise<W[]>;

type Task<DB, R, W> = (trx: Transaction<DB>) => Promise<Change<unknown, R, W>>;

/**
 * Writes the rows of several changes of one kind in one statement (PostgreSQL's enrollments, each
 * array a column): throws, having written what it may, if any one of them would be refused.
 */
export type WriteTogether<DB, I> = (trx: Transaction<DB>, items: readonly I[]) => Promise<void>;

/**
 * Writes a whole group of changes of one kind with their events and commits it, in one statement
 * outside any transaction (PostgreSQL's enrollments: one round trip for the group): what each
 * event was given, in order. Null if one of them would be refused, and then nothing is written;
 * throws if what became of the group is not known (it may have committed).
 */
export type CommitTogether<I, R, W> = (items: readonly I[], events: readonly R[]) => Promise<W[] | null>;

/**
 * A change a driver can write together with its neighbours of the same kind: its item for `write`
 * (and `commit`, when the whole group is of its kind) and its events and answer, which need
 * nothing from the database. Its task stays what runs when it is alone or when the group is run
 * again change by change.
 */
export interface Together<DB, T, R, W, I = unknown> {
  readonly write: WriteTogether<DB, I>;
  readonly commit?: CommitTogether<I, R, W> | undefined;
  readonly item: I;
  readonly change: () => Change<T, R, W>;
}

interface Pending<DB, R, W> {
  readonly task: Task<DB, R, W>;
  readonly together: Together<DB, unknown, R, W> | undefined;
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
export class GroupCommit<DB, R = never, W = never> {
  private queue: Pending<DB, R, W>[] = [];
  private scheduled = false;
  private running = false;

  /**
   * `durable`, when the database's commit returns before the disk has it (SQLite with
   * synchronous=NORMAL): resolves once all committed so far is on disk. A group is answered only
   * then, while the next group already runs. `record`: writes the events of the group's changes
   * that went through, in one go just before the commit (so whatever orders the log, PostgreSQL's
   * lock, is held from there to the commit only, not while the changes run).
   */
  constructor(
    private readonly db: Kysely<DB>,
    private readonly durable: () => Promise<void> = async () => {},
    private readonly record: RecordEvents<DB, R, W> = async () => [],
  ) {}

  /** `together`: how the change is written with its neighbours of the same kind, if it can be. */
  run<T, I>(
    task: (trx: Transaction<DB>) => Promise<Change<T, R, W>>,
    together?: Together<DB, T, R, W, I>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        task,
        together: together as Together<DB, unknown, R, W> | undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
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

  private async commit(batch: readonly Pending<DB, R, W>[]): Promise<void> {
    // A group all of one kind that the driver commits in one statement: nearly every group of
    // enrollments. Else first without savepoints, two statements a change fewer, and neighbours of
    // one kind written by one statement where the driver can: a group whose changes all go through
    // (nearly every one) commits as it is. One refused change, either way, leaves nothing written,
    // and the group runs again below, each change alone in its own savepoint.
    const atOnce = await this.commitAtOnce(batch);
    if (atOnce === "answered") return;
    if (atOnce === "untried" && batch.length > 1 && (await this.commitWhole(batch))) return;
    const outcomes: Outcome[] = [];
    let answers: Outcome[] = [];
    let trx: ControlledTransaction<DB> | null = null;
    try {
      trx = await this.db.startTransaction().execute();
      if (batch.length === 1) {
        // Alone, the transaction is its savepoint.
        outcomes.push(await settle(() => (batch[0] as Pending<DB, R, W>).task(trx as Transaction<DB>)));
        if (!outcomes[0]?.ok) {
          // Nothing was written: refused at once, no disk to wait for.
          await trx.rollback().execute();
          (batch[0] as Pending<DB, R, W>).reject(outcomes[0]?.value);
          return;
        }
      } else {
        for (const [index, pending] of batch.entries()) {
          outcomes.push(await this.isolated(trx, `change${index}`, pending.task));
        }
      }
      answers = await this.recorded(trx, outcomes);
      await trx.commit().execute();
    } catch (error) {
      // The transaction itself failed (a savepoint, the events' insert, the commit): none of the group is in.
      await refuseGroup(trx, batch, error);
      return;
    }
    this.answerWhenDurable(batch, answers);
  }

  /**
   * The group in one transaction without savepoints, runs of changes of one kind written together:
   * committed (and answered once durable) if every change went through; false, rolled back and
   * nothing answered, if one was refused.
   */
  private async commitWhole(batch: readonly Pending<DB, R, W>[]): Promise<boolean> {
    let trx: ControlledTransaction<DB> | null = null;
    const outcomes: Outcome[] = [];
    let answers: Outcome[];
    try {
      trx = await this.db.startTransaction().execute();
      for (let start = 0; start < batch.length; ) {
        const run = runOfOneKind(batch, start);
        start += run.length;
        const ran = await settle(() => writtenTogether(trx as Transaction<DB>, run));
        if (!ran.ok) {
          await trx.rollback().execute();
          return false;
        }
        outcomes.push(...(ran.value as Outcome[]));
      }
      answers = await this.recorded(trx, outcomes);
      await trx.commit().execute();
    } catch (error) {
      // The transaction itself failed (the events' insert, the commit): none of the group is in, and it is not
      // run again (a commit that failed to answer may have been done).
      await refuseGroup(trx, batch, error);
      return true;
    }
    this.answerWhenDurable(batch, answers);
    return true;
  }

  /**
   * The group in the driver's one statement, when every change of it is of one kind the driver
   * commits so: "answered" (once durable), "refused" (one of them would be; nothing written),
   * "untried". A statement whose outcome is not known refuses the group, as a failed commit does.
   */
  private async commitAtOnce(
    batch: readonly Pending<DB, R, W>[],
  ): Promise<"answered" | "refused" | "untried"> {
    const commit = batch[0]?.together?.commit;
    if (commit === undefined || batch.some((pending) => pending.together?.commit !== commit))
      return "untried";
    const togethers = batch.map((pending) => pending.together as Together<DB, unknown, R, W>);
    const outcomes = togethers.map((together): Outcome => ({ ok: true, value: together.change() }));
    let written: W[] | null;
    try {
      written = await commit(
        togethers.map((together) => together.item),
        eventsOf<R, W>(outcomes),
      );
    } catch (error) {
      await refuseGroup(null, batch, error);
      return "answered";
    }
    if (written === null) return "refused";
    this.answerWhenDurable(batch, answered(outcomes, written));
    return "answered";
  }

  /**
   * The events of the changes that went through, written in one go in the group's order, and each
   * change's answer made from what its own events were given; a refused change's outcome stays.
   */
  private async recorded(trx: Transaction<DB>, outcomes: readonly Outcome[]): Promise<Outcome[]> {
    const events = eventsOf<R, W>(outcomes);
    return answered(outcomes, events.length > 0 ? await this.record(trx, events) : []);
  }

  private answerWhenDurable(batch: readonly Pending<DB, R, W>[], outcomes: readonly Outcome[]): void {
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
    task: Task<DB, R, W>,
  ): Promise<Outcome> {
    const point = await trx.savepoint(name).execute();
    const outcome = await settle(() => task(point));
    if (outcome.ok) await point.releaseSavepoint(name).execute();
    else await point.rollbackToSavepoint(name).execute();
    return outcome;
  }
}

/** The events of the changes that went through, in the group's order. */
function eventsOf<R, W>(outcomes: readonly Outcome[]): R[] {
  return outcomes.flatMap((outcome) => (outcome.ok ? (outcome.value as Change<unknown, R, W>).events : []));
}

/** Each change that went through answered from what its own events were given (`written`, in order). */
function answered<R, W>(outcomes: readonly Outcome[], written: readonly W[]): Outcome[] {
  let next = 0;
  return outcomes.map((outcome) => {
    if (!outcome.ok) return outcome;
    const change = outcome.value as Change<unknown, R, W>;
    const own = written.slice(next, next + change.events.length);
    next += change.events.length;
    return { ok: true, value: change.answer(own) };
  });
}

/**
 * The changes from `start` that are written together: the run of neighbours with one way of doing
 * so (the order asked stays, so a change never passes another it could depend on), or one change.
 */
function runOfOneKind<DB, R, W>(batch: readonly Pending<DB, R, W>[], start: number): Pending<DB, R, W>[] {
  const write = batch[start]?.together?.write;
  let end = start + 1;
  while (write !== undefined && end < batch.length && batch[end]?.together?.write === write) end++;
  return batch.slice(start, end);
}

/** A run's changes written, in one statement if there are several; throws if one is refused. */
async function writtenTogether<DB, R, W>(
  trx: Transaction<DB>,
  run: readonly Pending<DB, R, W>[],
): Promise<Outcome[]> {
  const [first] = run;
  if (run.length === 1 || !first?.together) {
    return [{ ok: true, value: await (first as Pending<DB, R, W>).task(trx) }];
  }
  const togethers = run.map((pending) => pending.together as Together<DB, unknown, R, W>);
  await first.together.write(
    trx,
    togethers.map((together) => together.item),
  );
  return togethers.map((together) => ({ ok: true, value: together.change() }));
}

/** A group whose transaction failed: rolled back if still open, and every change refused with the error. */
async function refuseGroup<DB, R, W>(
  trx: ControlledTransaction<DB> | null,
  batch: readonly Pending<DB, R, W>[],
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
