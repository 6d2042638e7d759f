import type { AuditEntry, AuditLog, AuditRecord, AuditVerdict } from "../audit/audit-log.js";
import type { SummaryPlace } from "../audit/refusal-tally.js";
import { type Actor, type Credentials, LOCAL_CLI } from "../auth/actor.js";
import type { OwnerPin } from "../auth/owner-pin.js";
import type { PasskeyStore } from "../auth/passkey-store.js";
import type { PasskeyRegistration, ProofRefusal } from "../auth/proofs.js";
import { UnlockWindow } from "../auth/unlock-window.js";
import { StateError } from "../errors.js";
import type { FactoryUnit } from "../factory/factory-unit.js";
import type { Protection } from "../storage/backend.js";
import type { IdentifierStore } from "../storage/identifier-store.js";
import type { ElementMode } from "../storage/record.js";
import type { SealingKeyKind } from "../storage/sealing/key-home.js";
import type { TpmOwnerAuth } from "../storage/tpm-owner-auth.js";
import type { ElementStatus } from "./api.js";
import { elementStatus } from "./element-status.js";
import { type BindingListener, ElementEvents, type LifecycleListener, type Listener } from "./events.js";
import { type AuditDetail, type Operate, OwnerGate } from "./owner-gate.js";
import { OwnerProofs } from "./owner-proofs.js";
import { type PasskeyInfo, PasskeyOperations } from "./passkey-operations.js";
import { PinOperations } from "./pin-operations.js";
import type { ProcessingUnit } from "./processing-unit.js";
import { readProven } from "./proven-read.js";
import type { BindingEvent, Notification, Request, RequestType } from "./request.js";
import { type Audited, type Read, RequestPipeline } from "./request-pipeline.js";
import type { ScheduledRequest, ScheduleRegister } from "./schedule.js";
import { Scheduling } from "./scheduling.js";
import { Settings } from "./settings.js";

export type { BindingListener, LifecycleListener, Listener, OutgoingIdentifier } from "./events.js";

/** What the control unit works with besides the store and the processing unit. */
export interface ControlOptions {
  readonly sourceName: string;
  /** The owner gate: absent, every operation is open (a read-only element, or tests). */
  readonly owner?: OwnerPin | null;
  /** The owner's passkeys, the gate's other credential. */
  readonly passkeys?: PasskeyStore | null;
  /** Where every owner operation is recorded. */
  readonly audit?: AuditLog | null;
  /** Where requests that carry a time wait. */
  readonly schedule?: ScheduleRegister | null;
  /** The factory side (PUF, TPM or host identity) for factory mode and the mode switch. */
  readonly factory?: FactoryUnit | null;
  /** Where a proven PIN's authValue for the TPM's NV indices is held (absent: none is needed). */
  readonly ownerAuth?: TpmOwnerAuth | null;
  /** What protects the identifier now (status); absent: the store directory's permissions. */
  readonly protectedBy?: () => Promise<Protection>;
  readonly now?: () => Date;
}

/**
 * The control unit: the element's one door. Every operation goes through the request pipeline
 * (one at a time, checked against the element's state, committed, notified); the owner gate lets
 * through only what the owner authorized and audits it; the scheduling keeps requests that carry
 * a time; the settings and the PIN operations change what lives beside the identifier; the event
 * bus tells any number of listeners what happened.
 */
export class ControlUnit {
  /** What the element announces; lifecycle listeners (the bindings, a registry) are added here. */
  readonly events = new ElementEvents();
  private readonly now: () => Date;
  private readonly gate: OwnerGate;
  private readonly pipeline: RequestPipeline;
  private readonly scheduling: Scheduling;
  private readonly settings: Settings;
  private readonly pins: PinOperations;
  private readonly passkeys: PasskeyOperations;
  private readonly proofs: OwnerProofs;
  /** The owner's unlock window: in this process's memory only (docs/spec.md §2.8). */
  private readonly window: UnlockWindow;

  constructor(
    private readonly store: IdentifierStore,
    processing: ProcessingUnit,
    private readonly options: ControlOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.window = new UnlockWindow(this.now);
    this.gate = new OwnerGate({
      owner: options.owner ?? null,
      passkeys: options.passkeys ?? null,
      window: this.window,
      audit: options.audit ?? null,
      now: this.now,
      current: () => store.info(),
      journal: () => store.journal(),
    });
    const pipeline = new RequestPipeline({
      store,
      processing,
      gate: this.gate,
      events: this.events,
      factory: options.factory ?? null,
      now: this.now,
    });
    this.pipeline = pipeline;
    const operate: Operate = (name, actor, work, detail) => pipeline.operate(name, actor, work, detail);
    this.scheduling = new Scheduling(options.schedule ?? null, this.events, {
      serialize: (task) => pipeline.serialize(task),
      operate,
      carryOut: (request, actor, origin) => pipeline.carryOut(request, actor, origin),
      now: this.now,
    });
    this.settings = new Settings(store, processing, operate);
    const audit = options.audit ?? null;
    this.pins = new PinOperations(
      options.owner ?? null,
      (name, actor, work) => pipeline.operate(name, { ...actor, preauthorized: true }, work),
      // A new PIN's authValue: the record moves to the other NV index, defined under it, and the
      // audit key's index is defined again under it (docs/spec.md §5.7, §9.7).
      async () => {
        if (options.ownerAuth?.moving()) await this.settings.recommitSame();
        await audit?.reloadKey();
      },
      // The owner's PIN makes the audit log's key (docs/spec.md §9.7).
      () => audit?.createKey() ?? Promise.resolve(),
    );
    this.passkeys = new PasskeyOperations(options.passkeys ?? null, operate, (task) =>
      pipeline.serialize(task),
    );
    this.proofs = new OwnerProofs(operate, () => this.pins.summary().pin);
  }

  /** The element's clock (the daemon's, injectable). */
  time(): Date {
    return this.now();
  }

  /** The store directory: what is kept beside the identifier is written there. */
  get storeDirectory(): string {
    return this.store.directory;
  }

  /** The longest identifier, in bytes, the storage area holds. */
  get capacity(): number {
    return this.store.capacity;
  }

  submit(request: Request, actor: Actor = LOCAL_CLI): Promise<Notification> {
    return this.pipeline.submit(request, actor);
  }

  /** The mode switch (patent claim 20); see RequestPipeline.switchMode. */
  switchMode(mode: ElementMode, actor: Actor = LOCAL_CLI, unlinkable = false): Promise<Notification> {
    return this.pipeline.switchMode(mode, actor, unlinkable);
  }

  /**
   * Persists a request that carries a time (the control unit's register, patent FIG. 5). The owner
   * is checked now; at its time the request runs on this authority.
   */
  schedule(
    entry: { type: RequestType; format?: string; unlinkable?: boolean; at: Date },
    actor: Actor = LOCAL_CLI,
  ): Promise<ScheduledRequest> {
    return this.scheduling.schedule(entry, actor);
  }

  /** Removes a scheduled request before its time. */
  cancelScheduled(id: string, actor: Actor = LOCAL_CLI): Promise<ScheduledRequest> {
    return this.scheduling.cancel(id, actor);
  }

  scheduled(): ScheduledRequest[] {
    return this.scheduling.list();
  }

  /** Carries out every scheduled request due at `now`; see Scheduling.runDue. */
  runDue(now: Date, startedAt: Date): Promise<Notification[]> {
    return this.scheduling.runDue(now, startedAt);
  }

  status(): Promise<ElementStatus> {
    return this.pipeline.serialize(() =>
      elementStatus(this.store, {
        sourceName: this.options.sourceName,
        factory: () => this.options.factory?.provisioned()?.kind ?? null,
        scheduled: () => this.scheduled(),
        ...(this.options.protectedBy ? { protectedBy: this.options.protectedBy } : {}),
        owner: () => this.pins.summary(this.window.openUntil()),
      }),
    );
  }

  /** Turns single-type mode on or off; committed like any state change. */
  setSingleType(on: boolean, actor: Actor = LOCAL_CLI): Promise<ElementStatus> {
    return this.settings.setSingleType(on, actor).then(() => this.status());
  }

  /** Lets passkeys pass a locked element, or not: an owner operation like any setting. */
  setPasskeysBypassLockout(on: boolean, actor: Actor = LOCAL_CLI): Promise<ElementStatus> {
    return this.pipeline
      .operate(`passkeys-bypass-lockout-${on ? "on" : "off"}`, actor, async () =>
        this.pins.setPasskeysBypassLockout(on),
      )
      .then(() => this.status());
  }

  /**
   * Opens the unlock window for `seconds` on a fresh proof (the window never opens itself), and
   * records `unlock` with its end. Without a PIN every operation is open: nothing to unlock.
   */
  unlock(seconds: number, actor: Actor = LOCAL_CLI): Promise<{ until: string }> {
    let until: Date | null = null;
    return this.pipeline.operate(
      "unlock",
      actor,
      async () => {
        if (!this.pins.summary().pin) {
          throw new StateError(
            "no-pin",
            "no PIN is set: every operation is open, so there is nothing to unlock",
          );
        }
        until = this.window.open(seconds);
        return { until: until.toISOString() };
      },
      () => (until ? { until: until.toISOString() } : {}),
    );
  }

  /**
   * Closes the unlock window. Taking a power away needs no proof; it is recorded (`lock`) when a
   * window was open, and writes nothing otherwise, so a caller cannot fill the log with it.
   */
  async lock(actor: Actor = LOCAL_CLI): Promise<{ was: string | null }> {
    if (this.window.openUntil() === null) return { was: null };
    let was: Date | null = null;
    await this.pipeline.operate("lock", { ...actor, preauthorized: true }, async () => {
      was = this.window.close();
    });
    return { was: (was as Date | null)?.toISOString() ?? null };
  }

  /** Makes the store seal (under `key`), or re-seals it under a new key; see Settings.seal. */
  seal(actor: Actor = LOCAL_CLI, key: SealingKeyKind | null = null, rotate = false): Promise<ElementStatus> {
    return this.settings.seal(actor, key, rotate).then(() => this.status());
  }

  /** Commits the identifier in clear again; see Settings.unseal. */
  unseal(actor: Actor = LOCAL_CLI): Promise<ElementStatus> {
    return this.settings.unseal(actor).then(() => this.status());
  }

  /**
   * The encryption/decryption unit's read: runs `task` with the identifier, then zeroes it. Only
   * derived, public or wrapped material may leave `task`. A blank element has nothing to read.
   */
  useIdentifier<T>(task: Read<T>): Promise<T> {
    return this.pipeline.read(task);
  }

  /**
   * The identifier leaving the element, wrapped: an owner operation like any request, gated and
   * audited.
   */
  exportIdentifier<T>(actor: Actor, task: Read<T>): Promise<T> {
    return this.ownerUse("export", actor, task);
  }

  /**
   * An owner operation that reads the identifier (export, bind, unbind): gated unless the actor is
   * preauthorized, audited under `name` whatever the outcome, serialized with every request.
   */
  ownerUse<T>(name: string, actor: Actor, task: Read<T>, detail?: () => AuditDetail): Promise<T> {
    return this.pipeline.ownerRead(name, actor, task, detail);
  }

  /**
   * An operation of a caller who proves itself with the identifier's help (a bound user, a binder
   * with the setup code): `task` checks the proof first, unaudited, then hands its work to
   * `audited`, which records it as an owner operation of `actor` (docs/spec.md §9.5).
   */
  provenUse<T>(
    name: string,
    actor: Actor,
    task: (identifier: Uint8Array, audited: Audited) => T | Promise<T>,
    detail?: () => AuditDetail,
  ): Promise<T> {
    return this.pipeline.provenRead(
      name,
      actor,
      (identifier, _record, audited) => task(identifier, audited),
      detail,
    );
  }

  /**
   * Records summaries of refusals (docs/spec.md §9.5), serialized with every request; returns how
   * many were written.
   */
  summariseRefusals(summaries: (place: SummaryPlace) => AuditEntry[]): Promise<number> {
    return this.pipeline.serialize(() => this.gate.summarise(summaries));
  }

  /**
   * Sets or changes the owner PIN (a change needs the present one in the actor's credentials).
   * Returns the recovery code made by a first set, to show once.
   */
  setPin(newPin: string, actor: Actor = LOCAL_CLI): Promise<string | null> {
    return this.pins.set(newPin, actor);
  }

  /** Unlocks after too many wrong PINs; the recovery code is spent and a new one returned. */
  unlockPin(recoveryCode: string, actor: Actor = LOCAL_CLI): Promise<string> {
    return this.pins.unlock(recoveryCode, actor);
  }

  /**
   * Proves the owner with `actor`'s PIN outside any operation, counted as every try is: what a read
   * of a store the TPM keeps under the PIN's authorization needs first (docs/spec.md §5.7).
   */
  proveOwner(actor: Actor): Promise<void> {
    return this.pipeline.serialize(() => this.gate.prove(actor.credentials));
  }

  /**
   * A read of the record for `actor`: when the TPM keeps it under the owner PIN's authorization and
   * none is held yet, the PIN the actor gave proves the owner first (counted as every try), then the
   * read runs again; without one, `pin-required` (docs/spec.md §5.7).
   */
  readAs<T>(actor: Actor, read: () => Promise<T>): Promise<T> {
    return readProven(actor.credentials, read, () => this.proveOwner(actor));
  }

  /** Whether the TPM keeps the identifier under a PIN whose authorization is not held now. */
  ownerAuthMissing(): boolean {
    return this.options.ownerAuth?.missing() ?? false;
  }

  /** Called each time a proven PIN's TPM authorization is held (see TpmOwnerAuth.onHeld). */
  onOwnerAuth(listener: () => void): () => void {
    return this.options.ownerAuth?.onHeld(listener) ?? (() => undefined);
  }

  /** A sign-in to the owner's page: the actor's proof checked (a PIN counted), recorded as web-sign-in. */
  signIn(actor: Actor): Promise<{ principal: string }> {
    return this.proofs.signIn(actor);
  }

  /** Records `name` as refused for want of a fresh proof (`reason`), and rejects with that refusal. */
  refuseProof(name: string, reason: ProofRefusal, actor: Actor): Promise<never> {
    return this.proofs.refuse(name, reason, actor);
  }

  listPasskeys(): PasskeyInfo[] {
    return this.passkeys.list();
  }

  /** The owner's WebAuthn user handle, made on first use. */
  passkeyUser(): Promise<{ userId: string }> {
    return this.passkeys.user();
  }

  addPasskey(registration: PasskeyRegistration, actor: Actor): Promise<{ id: string; created: string }> {
    return this.passkeys.add(registration, actor);
  }

  removePasskey(id: string, actor: Actor): Promise<{ removed: string }> {
    return this.passkeys.remove(id, actor);
  }

  /** The audit log, oldest record first, and whether its chain is intact. */
  auditLog(credentials?: Credentials): Promise<{ records: AuditRecord[]; verdict: AuditVerdict }> {
    return this.gate.log(credentials);
  }

  /** Tells the binding listeners (the daemon's event stream) what happened to a binding. */
  announce(event: BindingEvent): void {
    this.events.announce(event);
  }

  onBindingEvent(listener: BindingListener): () => void {
    return this.events.onBindingEvent(listener);
  }

  onNotification(listener: Listener): () => void {
    return this.events.onNotification(listener);
  }

  /** Called after every change to the schedule (the daemon re-arms its timer). */
  onScheduleChange(listener: () => void): () => void {
    return this.events.onScheduleChange(listener);
  }

  /** Told before and after the identifier changes (the bindings, a registry); see LifecycleListener. */
  onLifecycle(listener: LifecycleListener): () => void {
    return this.events.onLifecycle(listener);
  }
}
