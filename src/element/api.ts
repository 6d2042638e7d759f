import type { AuditRecord, AuditVerdict } from "../audit/audit-log.js";
import type { PasskeyRegistration, ProofRefusal } from "../auth/proofs.js";
import type { SigningAlgorithm } from "../derive/signature.js";
import type { FactoryKind } from "../factory/factory-source.js";
import type { Protection } from "../storage/backend.js";
import type { ElementMode, RecordInfo } from "../storage/record.js";
import type { SealingKeyKind } from "../storage/sealing/key-home.js";
import type { Feed } from "./events.js";
import type { PasskeyInfo } from "./passkey-operations.js";
import type { OwnerSummary } from "./pin-operations.js";
import type { BindingEvent, Notification, RequestType } from "./request.js";
import type { ScheduledRequest } from "./schedule.js";

export type { PasskeyRegistration, ProofRefusal } from "../auth/proofs.js";
export type { PasskeyInfo } from "./passkey-operations.js";

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
  readonly scheduled: readonly {
    id: string;
    type: RequestType;
    at: string;
    format?: string;
    unlinkable?: boolean;
  }[];
  /** The store directory. */
  readonly store: string;
  /** Where the identifier is kept, for people: the store directory's files, or a TPM's NV indices. */
  readonly backend: string;
  /** What keeps the identifier from other programs (docs/spec.md §3.8). */
  readonly protectedBy: Protection;
  /** "typed": init, reset and erase as asked; "single-type": every request is a reset. */
  readonly requests: "typed" | "single-type";
  /** Whether the identifier is stored sealed under a key-encryption key. */
  readonly sealed: boolean;
  /** The id of the key that seals the store (store.json), else of the key-encryption key this element was opened with, or null. */
  readonly sealingKey: string | null;
  /** Where that key lives: a key-encryption key file, the TPM, the token (docs/spec.md §5.4). */
  readonly sealingKeyHome: SealingKeyKind | null;
  /** The owner PIN: set or not, wrong tries so far, locked (never the PIN itself). */
  readonly owner: OwnerSummary;
}

/** What the element announces as it happens: every finished request and every binding event. */
export type ElementEvent = Notification | BindingEvent;

/** The derived public keys, hex (P-256 uncompressed SEC1), and the handle. */
export interface PublicKeys {
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly p256: string;
}

/**
 * Everything a surface (CLI, daemon API, web page) may ask of the element. One implementation
 * works on the store directly (ElementService); another asks the daemon that owns the store
 * (RemoteElement). Both give the same answers and the same errors, so a command prints the same
 * whichever way it went.
 */
export interface ElementApi {
  status(): Promise<ElementStatus>;
  /** A request; `format` is as the user wrote it ("digits:40") and is checked by the element. */
  submit(type: RequestType, format?: string, unlinkable?: boolean): Promise<Notification>;
  /** init in factory mode: the identifier from the factory source `factory` (provisioned now). */
  initFactory(factory: FactoryKind, format?: string): Promise<Notification>;
  /**
   * The mode switch: random erases the factory identifier for a random one; factory restores it.
   * `unlinkable` (random only): nothing may link the random identity to the factory one.
   */
  switchMode(mode: ElementMode, unlinkable?: boolean): Promise<Notification>;
  /** A request to carry out at `at` (ISO-8601 with a zone); persisted until then. */
  schedule(
    type: RequestType,
    format: string | undefined,
    at: string,
    unlinkable?: boolean,
  ): Promise<ScheduledRequest>;
  cancelScheduled(id: string): Promise<ScheduledRequest>;
  setSingleType(on: boolean): Promise<ElementStatus>;
  /** Whether passkeys pass a locked element (docs/spec.md §2.8); needs a PIN set. */
  setPasskeysBypassLockout(on: boolean): Promise<ElementStatus>;
  /**
   * Seals the store under a key of home `key` (default: the key-encryption key the element was
   * opened with); `rotate`: re-seals a sealed store under a new key (docs/spec.md §5.4).
   */
  seal(key?: SealingKeyKind, rotate?: boolean): Promise<ElementStatus>;
  /** Commits the identifier in clear again and destroys the key that sealed it. */
  unseal(): Promise<ElementStatus>;
  keys(): Promise<PublicKeys>;
  certificate(algorithm: SigningAlgorithm, days: number): Promise<string>;
  certificationRequest(algorithm: SigningAlgorithm, subject?: string): Promise<string>;
  sign(algorithm: SigningAlgorithm, message: Uint8Array): Promise<{ signature: Uint8Array; handle: string }>;
  verify(
    algorithm: SigningAlgorithm,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<{ valid: boolean; handle: string }>;
  /** The identifier wrapped under `wrapKey` (RFC 5649), with the record it came from. */
  exportWrapped(wrapKey: Uint8Array): Promise<{ wrapped: Uint8Array; generation: number; handle: string }>;
  /** Sets or changes the owner PIN; a first set returns the recovery code, to show once. */
  setPin(newPin: string): Promise<{ recoveryCode: string | null }>;
  /** Unlocks after too many wrong PINs; returns the recovery code that replaces the spent one. */
  unlockPin(recoveryCode: string): Promise<{ recoveryCode: string }>;
  /**
   * Opens the owner's unlock window for `seconds` (1 to 12 h): command and telemetry from the
   * daemon's socket then pass without the PIN until it ends (docs/spec.md §2.8).
   */
  unlock(seconds: number): Promise<{ until: string }>;
  /** Closes the unlock window; `was`: the end it had, or null when none was open. */
  lock(): Promise<{ was: string | null }>;
  /** The audit log and whether its chain is intact. */
  auditLog(): Promise<{ records: readonly AuditRecord[]; verdict: AuditVerdict }>;
  /** The element's events as they happen ("request", "binding"), from now on; no history. */
  events(): Feed<ElementEvent>;
  /**
   * A sign-in to the owner's page: the actor's proof (the PIN, counted, or a passkey) checked by the
   * owner gate and the sign-in recorded (web-sign-in). Returns the principal signed in.
   */
  signIn(): Promise<{ principal: string }>;
  /**
   * Records that the owner operation `operation` was refused for want of a fresh proof (`reason`:
   * none given, a passkey challenge expired or made for another operation), and refuses it so:
   * always rejects, with that refusal.
   */
  refuseProof(operation: string, reason: ProofRefusal): Promise<never>;
  /** The owner's passkeys (ids and dates, never keys). */
  listPasskeys(): Promise<PasskeyInfo[]>;
  /** The owner's WebAuthn user handle for a new passkey's registration, made on first use. */
  passkeyUser(): Promise<{ userId: string }>;
  /** Registers a passkey; needs the PIN (never a passkey) once one is set. */
  addPasskey(registration: PasskeyRegistration): Promise<{ id: string; created: string }>;
  removePasskey(id: string): Promise<{ removed: string }>;
  close(): Promise<void>;
}
