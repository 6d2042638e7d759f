import type { AuditEntry, AuditLog, AuditRecord, AuditVerdict } from "../audit/audit-log.js";
import { type Actor, LOCAL_CLI } from "../auth/actor.js";
import type { OwnerPin } from "../auth/owner-pin.js";
import { ReidError, StateError, StorageError, UsageError } from "../errors.js";
import type { FactoryKind } from "../factory/factory-source.js";
import type { FactoryUnit } from "../factory/factory-unit.js";
import type { Provisioning } from "../factory/provisioning.js";
import { formatName, parseFormat } from "../format/format.js";
import { EraseIncompleteError, type IdentifierStore, type LoadOptions } from "../storage/identifier-store.js";
import type { ElementMode, RecordInfo, StoredRecord } from "../storage/record.js";
import type { ProcessingUnit } from "./processing-unit.js";
import type {
  BindingEvent,
  ModeSwitch,
  Notification,
  NotifiedRequest,
  Request,
  RequestType,
} from "./request.js";
import type { ScheduledRequest, ScheduleRegister } from "./schedule.js";

export interface ElementStatus {
  readonly state: RecordInfo["state"];
  readonly generation: number;
  readonly handle: string | null;
  /** factory: the identifier comes from the factory source; random: from the TRNG (source). */
  readonly mode: ElementMode;
  /** The factory source the element was provisioned with (init --factory), or null. */
  readonly factory: FactoryKind | null;
  readonly source: string;
  readonly format: string;
  readonly scheduled: readonly { id: string; type: RequestType; at: string; format?: string }[];
  readonly store: string;
  /** "typed": init, reset and erase as asked; "single-type": every request is a reset. */
  readonly requests: "typed" | "single-type";
  /** Whether the identifier is stored sealed under a key-encryption key. */
  readonly sealed: boolean;
  /** The id (a short hash) of the key-encryption key this element was opened with, or null. */
  readonly sealingKey: string | null;
  /** The owner PIN: set or not, wrong tries so far, locked (never the PIN itself). */
  readonly owner: { readonly pin: boolean; readonly failures: number; readonly locked: boolean };
}

export type Listener = (notification: Notification) => void;
export type BindingListener = (event: BindingEvent) => void;

/**
 * What lives beside the identifier, sealed under keys derived from it (the bindings): `retire` runs
 * with the outgoing identifier just before a reset or erase replaces it (the last moment its keys
 * can sign anything), `changed` once a new identifier or none is committed.
 */
export interface IdentifierCompanion {
  retire(
    read: <T>(task: (identifier: Uint8Array) => T | Promise<T>) => Promise<T>,
    announce: BindingListener,
  ): Promise<void>;
  changed(): void;
}

/** A scheduled request being carried out: its id, whether it fell due while no daemon ran, its format as written. */
interface Origin {
  readonly id: string;
  readonly late: boolean;
  readonly format?: string | undefined;
}

/** What the control unit works with besides the store and the processing unit. */
export interface ControlOptions {
  readonly sourceName: string;
  /** The owner gate: absent, every operation is open (a read-only element, or tests). */
  readonly owner?: OwnerPin | null;
  /** Where every owner operation is recorded. */
  readonly audit?: AuditLog | null;
  /** Where requests that carry a time wait. */
  readonly schedule?: ScheduleRegister | null;
  /** Told before and after the identifier changes (the bindings). */
  readonly companion?: IdentifierCompanion | null;
  /** The factory side (PUF, TPM or host identity) for factory mode and the mode switch. */
  readonly factory?: FactoryUnit | null;
  readonly now?: () => Date;
}

/**
 * The control unit: takes requests one at a time (concurrent callers queue, never interleave),
 * lets through only what the owner authorized, checks requests against the element's state,
 * drives the processing unit, records every owner operation in the audit log and notifies
 * listeners of every finished request.
 */
export class ControlUnit {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<Listener>();
  private readonly bindingListeners = new Set<BindingListener>();
  private readonly scheduleListeners = new Set<() => void>();
  private readonly sourceName: string;
  private readonly now: () => Date;

  constructor(
    private readonly store: IdentifierStore,
    private readonly processing: ProcessingUnit,
    private readonly options: ControlOptions,
  ) {
    this.sourceName = options.sourceName;
    this.now = options.now ?? (() => new Date());
  }

  /** The element's clock (the daemon's, injectable). */
  time(): Date {
    return this.now();
  }

  /** Where the element's store lives. */
  get location(): string {
    return this.store.location;
  }

  /** The longest identifier, in bytes, the storage area holds. */
  get capacity(): number {
    return this.store.capacity;
  }

  submit(request: Request, actor: Actor = LOCAL_CLI): Promise<Notification> {
    return this.serialize(() => this.carryOut(request, actor));
  }

  private carryOut(request: Request, actor: Actor, origin?: Origin): Promise<Notification> {
    // Audited under what is carried out; in single-type mode that is a reset, whatever was asked.
    let performed: RequestType = request.type;
    const detail = () => ({
      ...(performed !== request.type ? { requested: request.type } : {}),
      ...(request.factory ? { factory: request.factory } : {}),
      ...(origin ? { schedule: origin.id, late: origin.late } : {}),
    });
    return this.operation(
      () => performed,
      actor,
      async () => {
        const current = await this.store.info();
        const type = this.resolve(request, current);
        performed = type;
        // A scheduled request's format was checked when it was scheduled; a hand-edited schedule is
        // checked again here, inside the operation, so a bad one is refused and audited.
        const format =
          (origin?.format === undefined ? request.format : parseFormat(origin.format, this.store.capacity)) ??
          current.format;
        const factory = request.factory;
        return this.commitNotified(type, request.type, origin, current, () =>
          type === "erase"
            ? this.processing.eraseIdentifier(current)
            : factory
              ? this.writeFactory(current, { kind: factory, format })
              : this.processing.writeIdentifier(current, format),
        );
      },
      detail,
    );
  }

  /**
   * Runs `write` (one commit) and notifies its outcome. Committed, though the old copy survived:
   * the change happened and is announced, and the caller still learns of the failure.
   */
  private async commitNotified(
    type: NotifiedRequest,
    requested: NotifiedRequest,
    origin: Origin | undefined,
    current: RecordInfo,
    write: () => Promise<StoredRecord>,
  ): Promise<{ record: RecordInfo; value: Notification }> {
    // Before anything changes: a failure here refuses the request with the identifier intact.
    if (current.state === "set") {
      await this.options.companion?.retire(
        (task) => this.readIdentifier(task),
        (event) => this.announce(event),
      );
    }
    try {
      const next = await write();
      next.identifier?.fill(0);
      this.companionChanged();
      return { record: next, value: this.notify(type, requested, next, origin) };
    } catch (error) {
      // Committed, though the old copy survived: the change happened and is announced, and the
      // caller still learns of the failure.
      if (error instanceof EraseIncompleteError) {
        this.companionChanged();
        this.notify(type, requested, error.committed, origin);
      }
      throw error;
    }
  }

  /**
   * The mode switch (patent claim 20), an owner operation like a reset and as crash-atomic: to
   * random, a new identifier from the TRNG replaces the factory one (the commit erases it); to
   * factory (a factory reset), the factory source's identifier replaces the random one. The mode
   * travels in the same record as the identifier.
   */
  switchMode(mode: ElementMode, actor: Actor = LOCAL_CLI): Promise<Notification> {
    const name: ModeSwitch = mode === "random" ? "mode-random" : "mode-factory";
    let from: ElementMode | null = null;
    return this.serialize(() =>
      this.operation(
        name,
        actor,
        async () => {
          const current = await this.store.info();
          from = current.mode;
          if (current.mode === mode) {
            throw new StateError("already-in-mode", `the element is already in ${mode} mode`);
          }
          // Back to factory mode: the factory identifier in the factory's format, exactly as it was.
          return this.commitNotified(name, name, undefined, current, () =>
            mode === "random"
              ? this.processing.writeIdentifier(current, current.format)
              : this.writeFactory(current),
          );
        },
        () => (from ? { from } : {}),
      ),
    );
  }

  /**
   * The factory identifier, in the format it was provisioned with; init --factory provisions
   * `provision` (source and format) first.
   */
  private async writeFactory(current: RecordInfo, provision?: Provisioning): Promise<StoredRecord> {
    const factory = this.options.factory;
    if (!factory) throw new StorageError("this element has no factory side", "no-factory");
    if (provision) await factory.provision(provision);
    const { root, format } = await factory.root();
    try {
      return await this.processing.writeFactoryIdentifier(current, format, root);
    } finally {
      root.fill(0);
    }
  }

  /**
   * Persists a request that carries a time (the control unit's register, patent FIG. 5). The owner
   * is checked now; at its time the request runs on this authority.
   */
  schedule(
    entry: { type: RequestType; format?: string; at: Date },
    actor: Actor = LOCAL_CLI,
  ): Promise<ScheduledRequest> {
    const schedule = this.register();
    return this.serialize(() =>
      this.operation(
        `schedule-${entry.type}`,
        actor,
        async () => {
          const scheduled = this.changed(schedule).add({
            type: entry.type,
            ...(entry.format === undefined ? {} : { format: entry.format }),
            at: entry.at.toISOString(),
            principal: actor.principal,
            created: this.now().toISOString(),
          });
          return { record: await this.store.info(), value: scheduled };
        },
        { at: entry.at.toISOString() },
      ),
    );
  }

  /** Removes a scheduled request before its time. */
  cancelScheduled(id: string, actor: Actor = LOCAL_CLI): Promise<ScheduledRequest> {
    const schedule = this.register();
    return this.serialize(() =>
      this.operation(
        "cancel-schedule",
        actor,
        async () => {
          const removed = this.changed(schedule).remove(id);
          if (!removed)
            throw new StateError("no-such-schedule", `no scheduled request has the id '${id.slice(0, 64)}'`);
          return { record: await this.store.info(), value: removed };
        },
        { schedule: id.slice(0, 64) },
      ),
    );
  }

  scheduled(): ScheduledRequest[] {
    return this.options.schedule?.list() ?? [];
  }

  /**
   * Carries out every scheduled request due at `now`, oldest first. One that fell due before
   * `startedAt` (while no daemon ran) is marked late. Each is taken off the register before it runs,
   * so a crash never runs it twice; its outcome goes to the audit log either way.
   */
  async runDue(now: Date, startedAt: Date): Promise<Notification[]> {
    const done: Notification[] = [];
    for (const entry of this.scheduled()) {
      if (Date.parse(entry.at) > now.getTime()) break;
      const removed = await this.serialize(async () => this.register().remove(entry.id));
      if (!removed) continue;
      const actor: Actor = { principal: `scheduler:${entry.principal}`, preauthorized: true };
      const origin = { id: entry.id, late: Date.parse(entry.at) < startedAt.getTime(), format: entry.format };
      try {
        done.push(await this.serialize(() => this.carryOut({ type: entry.type }, actor, origin)));
      } catch {
        // Refused at its time (already blank, an entropy failure...): the audit log says why.
      }
    }
    return done;
  }

  /** Called after every change to the schedule (the daemon re-arms its timer). */
  onScheduleChange(listener: () => void): () => void {
    this.scheduleListeners.add(listener);
    return () => this.scheduleListeners.delete(listener);
  }

  /** `schedule`, with the listeners told once the current microtask is done with it. */
  private changed(schedule: ScheduleRegister): ScheduleRegister {
    queueMicrotask(() => {
      for (const listener of this.scheduleListeners) listener();
    });
    return schedule;
  }

  private register(): ScheduleRegister {
    if (!this.options.schedule) throw new StorageError("this element keeps no schedule", "no-schedule");
    return this.options.schedule;
  }

  status(): Promise<ElementStatus> {
    return this.serialize(async () => {
      const current = await this.store.info();
      return {
        state: current.state,
        generation: current.generation,
        handle: current.handle,
        mode: current.mode,
        factory: this.options.factory?.provisioned()?.kind ?? null,
        source: this.sourceName,
        format: formatName(current.format),
        scheduled: this.scheduled().map(({ id, type, at, format }) => ({
          id,
          type,
          at,
          ...(format ? { format } : {}),
        })),
        store: this.store.location,
        requests: current.singleType ? "single-type" : "typed",
        sealed: current.sealed,
        sealingKey: this.store.sealingKeyId,
        owner: this.ownerSummary(),
      };
    });
  }

  /** Turns single-type mode on or off; committed like any state change. */
  setSingleType(on: boolean, actor: Actor = LOCAL_CLI): Promise<ElementStatus> {
    return this.recommit(`single-type-${on ? "on" : "off"}`, actor, (current) => current.singleType !== on, {
      singleType: on,
    });
  }

  /**
   * Makes the store seal under the key-encryption key it was opened with: an identifier stored in
   * clear is committed again sealed (same identifier, generation and handle), and a blank store
   * keeps sealing from now on. On a store that already seals, the key is checked, not trusted.
   */
  seal(actor: Actor = LOCAL_CLI): Promise<ElementStatus> {
    return this.serialize(() =>
      this.operation("seal", actor, async () => {
        if (this.store.sealingKeyId === null) {
          throw new UsageError(
            "this element was opened without a key-encryption key: give one with --kek-file (to 'reid serve', when a daemon serves the store)",
          );
        }
        if (!(await this.store.info()).sealed) await this.recommitNow({}, { acceptUnsealed: true });
        // Opening the sealed identifier proves the key (store-key-wrong otherwise).
        else (await this.store.load()).identifier?.fill(0);
        return { record: await this.store.info(), value: undefined };
      }),
    ).then(() => this.status());
  }

  /**
   * The encryption/decryption unit's read: runs `task` with the identifier, then zeroes it. Only
   * derived, public or wrapped material may leave `task`. A blank element has nothing to read.
   */
  useIdentifier<T>(task: (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>): Promise<T> {
    return this.serialize(() => this.readIdentifier(task));
  }

  /**
   * The identifier leaving the element, wrapped: an owner operation like any request, gated and
   * audited.
   */
  exportIdentifier<T>(
    actor: Actor,
    task: (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>,
  ): Promise<T> {
    return this.ownerUse("export", actor, task);
  }

  /**
   * An owner operation that reads the identifier (export, bind, unbind): gated unless the actor is
   * preauthorized, audited under `name` whatever the outcome, serialized with every request.
   */
  ownerUse<T>(
    name: string,
    actor: Actor,
    task: (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>,
    detail?: () => AuditEntry["detail"],
  ): Promise<T> {
    return this.serialize(() =>
      this.operation(
        name,
        actor,
        async () => {
          const value = await this.readIdentifier(task);
          return { record: await this.store.info(), value };
        },
        detail,
      ),
    );
  }

  /** Owner operations outside the store (the PIN itself): gated as the caller decides, and audited. */
  audited<T>(name: string, actor: Actor, work: () => Promise<T>): Promise<T> {
    return this.serialize(() =>
      this.operation(name, { ...actor, preauthorized: true }, async () => ({
        value: await work(),
        record: await this.store.info(),
      })),
    );
  }

  private async readIdentifier<T>(
    task: (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>,
  ): Promise<T> {
    const { identifier, ...record } = await this.store.load();
    if (!identifier) {
      throw new StateError("blank", "the element holds no identifier (it is blank); run 'reid init' first");
    }
    try {
      return await task(identifier, record);
    } finally {
      identifier.fill(0);
    }
  }

  /**
   * One owner operation: the gate first (unless the surface already authenticated the actor), then
   * the work, then its audit record, whatever the outcome. A failure to audit a refusal is left
   * unsaid (the refusal is the news); a failure to audit a change that happened is an error.
   */
  private async operation<T>(
    name: string | (() => string),
    actor: Actor,
    work: () => Promise<{ record: RecordInfo; value: T }>,
    detail?: AuditEntry["detail"] | (() => AuditEntry["detail"]),
  ): Promise<T> {
    const named = () => (typeof name === "function" ? name() : name);
    const details = () => {
      const value = typeof detail === "function" ? detail() : detail;
      return value && Object.keys(value).length > 0 ? value : undefined;
    };
    let result: { record: RecordInfo; value: T };
    try {
      if (!actor.preauthorized) await this.options.owner?.authorize(actor.credentials);
      result = await work();
    } catch (error) {
      const outcome = error instanceof ReidError ? error.code : "internal";
      const current = await this.store.info().catch(() => null);
      try {
        this.record(named(), actor, outcome, current, details());
      } catch {}
      throw error;
    }
    try {
      this.record(named(), actor, "ok", result.record, details());
    } catch (error) {
      throw new StorageError(
        `${named()} was carried out, but its audit record could not be written: ${(error as Error).message}`,
        "audit-failure",
      );
    }
    return result.value;
  }

  private record(
    name: string,
    actor: Actor,
    outcome: string,
    record: RecordInfo | null,
    detail?: AuditEntry["detail"],
  ): void {
    this.options.audit?.append({
      time: this.now().toISOString(),
      request: name,
      principal: actor.principal,
      outcome,
      generation: record?.generation ?? 0,
      handle: record?.handle ?? null,
      ...(detail ? { detail } : {}),
    });
  }

  /** Commits the current record again with `change` when `needed`; the identifier stays as it is. */
  private recommit(
    name: string,
    actor: Actor,
    needed: (current: RecordInfo) => boolean,
    change: { readonly singleType?: boolean },
  ): Promise<ElementStatus> {
    return this.serialize(() =>
      this.operation(name, actor, async () => {
        if (needed(await this.store.info())) await this.recommitNow(change);
        return { record: await this.store.info(), value: undefined };
      }),
    ).then(() => this.status());
  }

  private async recommitNow(change: { readonly singleType?: boolean }, options?: LoadOptions): Promise<void> {
    const current = await this.store.load(options);
    try {
      (await this.processing.configure(current, change)).identifier?.fill(0);
    } finally {
      current.identifier?.fill(0);
    }
  }

  private notify(
    type: NotifiedRequest,
    requested: NotifiedRequest,
    next: RecordInfo,
    origin?: Origin,
  ): Notification {
    const notification: Notification = {
      request: type,
      requested,
      state: next.state,
      mode: next.mode,
      generation: next.generation,
      handle: next.handle,
      time: this.now().toISOString(),
      ...(origin ? { scheduled: origin.id, late: origin.late } : {}),
    };
    for (const listener of this.listeners) listener(notification);
    return notification;
  }

  /**
   * Sets or changes the owner PIN (a change needs the present one in the actor's credentials).
   * Returns the recovery code made by a first set, to show once.
   */
  setPin(newPin: string, actor: Actor = LOCAL_CLI): Promise<string | null> {
    const owner = this.owner();
    return this.audited(owner.isSet() ? "pin-change" : "pin-set", actor, () =>
      owner.set(newPin, actor.credentials),
    );
  }

  /** Unlocks after too many wrong PINs; the recovery code is spent and a new one returned. */
  unlockPin(recoveryCode: string, actor: Actor = LOCAL_CLI): Promise<string> {
    const owner = this.owner();
    return this.audited("pin-unlock", actor, () => owner.unlock(recoveryCode));
  }

  /** The audit log, oldest record first, and whether its chain is intact. */
  auditLog(): { records: AuditRecord[]; verdict: AuditVerdict } {
    const audit = this.options.audit;
    if (!audit) return { records: [], verdict: { intact: true, records: 0, head: "0".repeat(64) } };
    return { records: audit.read(), verdict: audit.verify() };
  }

  private owner(): OwnerPin {
    if (!this.options.owner) throw new StorageError("this element has no owner PIN state", "no-owner");
    return this.options.owner;
  }

  private ownerSummary(): ElementStatus["owner"] {
    const { set, failures, locked } = this.options.owner?.summary() ?? {
      set: false,
      failures: 0,
      locked: false,
    };
    return { pin: set, failures, locked };
  }

  /** Tells the binding listeners (the daemon's event stream) what happened to a binding. */
  announce(event: BindingEvent): void {
    for (const listener of this.bindingListeners) listener(event);
  }

  onBindingEvent(listener: BindingListener): () => void {
    this.bindingListeners.add(listener);
    return () => this.bindingListeners.delete(listener);
  }

  /**
   * The companion learns the identifier changed. The change is committed: a failure here (a
   * bindings file that cannot be removed) is left to the companion, whose files sealed under the
   * old identifier's keys can no longer be opened anyway.
   */
  private companionChanged(): void {
    try {
      this.options.companion?.changed();
    } catch {}
  }

  onNotification(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private resolve(request: Request, current: RecordInfo): RequestType {
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

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
