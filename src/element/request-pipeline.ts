import { GENERATING } from "../audit/audit-log.js";
import type { Actor } from "../auth/actor.js";
import { StateError, StorageError } from "../errors.js";
import type { FactoryUnit } from "../factory/factory-unit.js";
import type { Provisioning } from "../factory/provisioning.js";
import { parseFormat } from "../format/format.js";
import { EraseIncompleteError, type IdentifierStore } from "../storage/identifier-store.js";
import type { ElementMode, RecordInfo, StoredRecord } from "../storage/record.js";
import type { ElementEvents } from "./events.js";
import type { AuditDetail, Intend, OwnerGate } from "./owner-gate.js";
import type { BeforeCommit, Journal, ProcessingUnit } from "./processing-unit.js";
import type {
  ModeSwitch,
  Notification,
  NotifiedRequest,
  Request,
  RequestType,
  RetireNote,
} from "./request.js";
import type { Origin } from "./scheduling.js";

/** Runs a proven caller's work as an audited owner operation: its intent before, its outcome after. */
export type Audited = <U>(work: () => U | Promise<U>) => Promise<U>;

/** Reads the identifier for one task (zeroed after), with the record it belongs to. */
export type Read<T> = (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>;

export interface PipelineParts {
  readonly store: IdentifierStore;
  readonly processing: ProcessingUnit;
  readonly gate: OwnerGate;
  readonly events: ElementEvents;
  /** The factory side (PUF, TPM or host identity) for factory mode and the mode switch. */
  readonly factory: FactoryUnit | null;
  readonly now: () => Date;
}

/** One change of the identifier on its way through the pipeline. */
interface Change {
  readonly type: NotifiedRequest;
  readonly requested: NotifiedRequest;
  readonly origin: Origin | undefined;
  readonly current: RecordInfo;
  /** A reset the owner asked to leave unlinked to the identity before (no succession). */
  readonly unlinkable: boolean;
  /** The lifecycle listeners that failed ("registry:retire"), for the audit record. */
  readonly failures: string[];
}

/** What the listeners' `retire` added, for the notification. */
type Noted = { note: RetireNote };

/**
 * The request pipeline: every operation on the element runs here one at a time (concurrent callers
 * queue, never interleave). A request is checked against the element's state, drives the
 * processing unit, and is committed between the lifecycle listeners' `retire` and `changed`; then
 * its notification goes out.
 * Specified in docs/spec.md §2.2, §2.3, §2.5.
 */
export class RequestPipeline {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly parts: PipelineParts) {}

  serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  submit(request: Request, actor: Actor): Promise<Notification> {
    return this.serialize(() => this.carryOut(request, actor));
  }

  /** A request, gated and audited; runs inside `serialize` (a scheduled one, too). */
  carryOut(request: Request, actor: Actor, origin?: Origin): Promise<Notification> {
    const { store, processing } = this.parts;
    // Audited under what is carried out; in single-type mode that is a reset, whatever was asked.
    let performed: RequestType = request.type;
    const failures: string[] = [];
    const detail = () => ({
      ...(performed !== request.type ? { requested: request.type } : {}),
      ...(request.factory ? { factory: request.factory } : {}),
      ...(origin ? { schedule: origin.id, late: origin.late } : {}),
      ...listenerFailures(failures),
    });
    return this.parts.gate.operation(
      () => performed,
      actor,
      async (intend) => {
        const current = await store.info();
        const type = resolve(request, current);
        performed = type;
        // A scheduled request's format was checked when it was scheduled; a hand-edited schedule is
        // checked again here, inside the operation, so a bad one is refused and audited.
        const format =
          (origin?.format === undefined ? request.format : parseFormat(origin.format, store.capacity)) ??
          current.format;
        const factory = request.factory;
        return this.commitNotified(
          {
            type,
            requested: request.type,
            origin,
            current,
            unlinkable: request.unlinkable === true,
            failures,
          },
          intend,
          (journal, before) =>
            type === "erase"
              ? processing.eraseIdentifier(current, journal)
              : factory
                ? this.writeFactory(current, journal, { kind: factory, format })
                : processing.writeIdentifier(current, format, journal, before),
          // Provisioning the factory side is a change before the commit: its intent comes first.
          { journaled: !factory },
        );
      },
      detail,
      LATE,
    );
  }

  /**
   * The mode switch (patent claim 20), an owner operation like a reset and as crash-atomic: to
   * random, a new identifier from the TRNG replaces the factory one (the commit erases it); to
   * factory (a factory reset), the factory source's identifier replaces the random one. The mode
   * travels in the same record as the identifier. To random, the listeners see both identifiers
   * before the commit as for a reset (a succession), unless the owner asked it `unlinkable`.
   */
  switchMode(mode: ElementMode, actor: Actor, unlinkable = false): Promise<Notification> {
    const name: ModeSwitch = mode === "random" ? "mode-random" : "mode-factory";
    let from: ElementMode | null = null;
    const failures: string[] = [];
    return this.serialize(() =>
      this.parts.gate.operation(
        name,
        actor,
        async (intend) => {
          const current = await this.parts.store.info();
          from = current.mode;
          if (current.mode === mode) {
            throw new StateError("already-in-mode", `the element is already in ${mode} mode`);
          }
          // Back to factory mode: the factory identifier in the factory's format, exactly as it was.
          return this.commitNotified(
            { type: name, requested: name, origin: undefined, current, unlinkable, failures },
            intend,
            (journal, before) =>
              mode === "random"
                ? this.parts.processing.writeIdentifier(current, current.format, journal, before)
                : this.writeFactory(current, journal),
          );
        },
        () => ({ ...(from ? { from } : {}), ...listenerFailures(failures) }),
        LATE,
      ),
    );
  }

  /** Runs `task` with the identifier, serialized with every request. */
  read<T>(task: Read<T>): Promise<T> {
    return this.serialize(() => this.readIdentifier(task));
  }

  /** An owner operation that reads the identifier (export, bind, unbind). */
  ownerRead<T>(name: string, actor: Actor, task: Read<T>, detail?: () => AuditDetail): Promise<T> {
    return this.operate(name, actor, () => this.readIdentifier(task), detail);
  }

  /**
   * An operation whose caller proves itself with the identifier's help (a bound user's signature,
   * a setup code's proof): `task` checks the proof, unaudited, and hands the work to `audited` once
   * it holds, which audits it as an owner operation (intent, work, outcome), with the same read of
   * the identifier. A proof that fails writes nothing to the audit log (docs/spec.md §9.5).
   */
  provenRead<T>(
    name: string,
    actor: Actor,
    task: (identifier: Uint8Array, record: RecordInfo, audited: Audited) => T | Promise<T>,
    detail?: () => AuditDetail,
  ): Promise<T> {
    return this.serialize(() =>
      this.readIdentifier((identifier, record) =>
        task(identifier, record, (work) => this.audited(name, actor, work, detail)),
      ),
    );
  }

  /** An owner operation serialized with every request, audited with the record the work left. */
  operate<T>(
    name: string,
    actor: Actor,
    work: () => Promise<T>,
    detail?: AuditDetail | (() => AuditDetail),
  ): Promise<T> {
    return this.serialize(() => this.audited(name, actor, work, detail));
  }

  /** `work` as an owner operation, gated and audited with the record it left; the caller serializes. */
  private audited<T>(
    name: string,
    actor: Actor,
    work: () => T | Promise<T>,
    detail?: AuditDetail | (() => AuditDetail),
  ): Promise<T> {
    return this.parts.gate.operation(
      name,
      actor,
      async () => {
        const value = await work();
        return { record: await this.parts.store.info(), value };
      },
      detail,
    );
  }

  /**
   * Records the intent (the generation the commit will leave), then runs `write` (one commit)
   * between the lifecycle listeners' `retire` and `changed`, and notifies its outcome. The checks
   * before come first, so a refused request is one record; the intent before anything changes, so
   * a commit is never unrecorded, whenever the process dies (docs/spec.md §9.3). The intent is
   * carried by the commit in its own durable write (`journal`) when the store keeps journals and
   * nothing else acts first (listeners on the outgoing identifier, `journaled: false`); otherwise
   * it is synced before. Carried so, the intent of a new generation is written once its handle is
   * derived, naming it, and is the commit's one record when it succeeds.
   */
  private async commitNotified(
    change: Change,
    intend: Intend,
    write: (journal: Journal, before?: BeforeCommit) => Promise<StoredRecord>,
    options: { readonly journaled?: boolean } = {},
  ): Promise<{ record: RecordInfo; value: Notification }> {
    const { current, failures } = change;
    const generation = change.type === "erase" ? current.generation : current.generation + 1;
    // Asked once: listeners that would not act are not asked to retire (nor is the intent synced for them).
    const retiring = current.state === "set" && this.parts.events.retiring;
    const capacity = options.journaled !== false && !retiring ? this.parts.store.journalCapacity : 0;
    const journal: Journal =
      capacity > 0 && GENERATING.has(change.type)
        ? (handle: string | null) =>
            intend({ generation, handle }, { journal: capacity, sole: true }) ?? undefined
        : (intend({ generation, handle: null }, { journal: capacity }) ?? undefined);
    const outgoing = {
      generation: current.generation,
      handle: current.handle,
      request: change.type,
      unlinkable: change.unlinkable,
    };
    const readOutgoing = <T>(task: (identifier: Uint8Array) => T | Promise<T>) => this.readIdentifier(task);
    // Before anything changes, while the outgoing identifier's keys can still sign.
    const noted: Noted = { note: {} };
    if (retiring) {
      const retired = await this.parts.events.retire(outgoing, readOutgoing);
      failures.push(...retired.failures);
      noted.note = retired.note;
    }
    // A new random identifier (a reset, the switch to random mode) whose listeners act sees both
    // identifiers before the commit (absent otherwise: no cost).
    const before: BeforeCommit | undefined =
      retiring && SUCCEEDING.has(change.type) && !change.unlinkable && this.parts.events.succeeding
        ? async (handle, identifier) => {
            const incoming = { generation, handle };
            const readIncoming = async <T>(task: (identifier: Uint8Array) => T | Promise<T>) => {
              const copy = identifier.slice();
              try {
                return await task(copy);
              } finally {
                copy.fill(0);
              }
            };
            const reads = { outgoing: readOutgoing, incoming: readIncoming };
            failures.push(...(await this.parts.events.succeed(outgoing, incoming, reads)));
          }
        : undefined;
    try {
      const next = await write(journal, before);
      next.identifier?.fill(0);
      return { record: next, value: await this.changed(change, next, noted.note) };
    } catch (error) {
      // Committed, though the old copy survived: the change happened and is announced, and the
      // caller still learns of the failure.
      if (error instanceof EraseIncompleteError) await this.changed(change, error.committed, noted.note);
      throw error;
    }
  }

  /** The lifecycle listeners learn of the committed change, then the notification listeners. */
  private async changed(change: Change, next: RecordInfo, note: RetireNote): Promise<Notification> {
    const { origin } = change;
    const notification: Notification = {
      request: change.type,
      requested: change.requested,
      state: next.state,
      mode: next.mode,
      generation: next.generation,
      handle: next.handle,
      time: this.parts.now().toISOString(),
      ...(origin ? { scheduled: origin.id, late: origin.late } : {}),
      ...note,
    };
    change.failures.push(...(await this.parts.events.changed(notification)));
    this.parts.events.notify(notification);
    return notification;
  }

  /**
   * The factory identifier, in the format it was provisioned with; init --factory provisions
   * `provision` (source and format) first.
   */
  private async writeFactory(
    current: RecordInfo,
    journal: Journal,
    provision?: Provisioning,
  ): Promise<StoredRecord> {
    const factory = this.parts.factory;
    if (!factory) throw new StorageError("this element has no factory side", "no-factory");
    if (provision) await factory.provision(provision);
    const { root, format } = await factory.root();
    try {
      return await this.parts.processing.writeFactoryIdentifier(current, format, root, journal);
    } finally {
      root.fill(0);
    }
  }

  private async readIdentifier<T>(task: Read<T>): Promise<T> {
    const { identifier, ...record } = await this.parts.store.load();
    if (!identifier) {
      throw new StateError("blank", "the element holds no identifier (it is blank); run 'reid init' first");
    }
    try {
      return await task(identifier, record);
    } finally {
      identifier.fill(0);
    }
  }
}

/** The changes that draw a new identifier from the TRNG: the ones a listener may link to the last (§2.7). */
const SUCCEEDING: ReadonlySet<NotifiedRequest> = new Set(["reset", "mode-random"]);

/** The requests that commit: their intent is recorded once their checks have passed. */
const LATE = { late: true } as const;

/** The request to carry out, or why it is refused in the element's present state. */
function resolve(request: Request, current: RecordInfo): RequestType {
  const type = request.factory ? "init" : current.singleType ? "reset" : request.type;
  if (type !== "init" && current.mode === "factory") {
    // The TRNG path is shut down in factory mode (claim 20), and the factory identity stays.
    throw new StateError(
      "factory-mode",
      `the element is in factory mode: its identifier comes from the factory source, so ${type} is refused; 'reid mode random' switches to random identifiers`,
    );
  }
  if (type === "init" && current.state === "set") {
    throw new StateError(
      "already-initialized",
      `the element already holds an identifier (generation ${current.generation}); use reset to replace it`,
    );
  }
  if (type === "erase" && current.state === "blank") {
    throw new StateError("already-blank", "the element holds no identifier; there is nothing to erase");
  }
  return type;
}

/** The lifecycle listeners that failed during a request, for its audit record (absent when none did). */
function listenerFailures(failures: readonly string[]): { listenerFailures?: string } {
  return failures.length > 0 ? { listenerFailures: failures.join(",") } : {};
}
