import { type Actor, LOCAL_CLI } from "../auth/actor.js";
import type { DerivedKeys } from "../derive/derivation.js";
import type { SigningAlgorithm } from "../derive/signature.js";
import { UsageError } from "../errors.js";
import type { FactoryKind } from "../factory/factory-source.js";
import { parseFormat } from "../format/format.js";
import type { ElementMode } from "../storage/record.js";
import type { SealingKeyKind } from "../storage/sealing/key-home.js";
import type {
  ElementApi,
  ElementEvent,
  ElementStatus,
  PasskeyInfo,
  PasskeyRegistration,
  ProofRefusal,
  PublicKeys,
} from "./api.js";
import type { ControlUnit } from "./control-unit.js";
import type { Element } from "./element.js";
import type { Feed } from "./events.js";
import { scheduleId, scheduleTime } from "./inputs.js";
import type { Notification, RequestType } from "./request.js";

/**
 * The element's operations on an open element: requests through the control unit, and the
 * encryption/decryption unit's derived material. The derivation code loads on first use, so
 * status and requests never pay for it.
 */
export class ElementService implements ElementApi {
  readonly control: ControlUnit;

  constructor(
    private readonly element: Element,
    /** Who this view acts for: every owner operation is gated and audited as them. */
    readonly actor: Actor = LOCAL_CLI,
    /** Ends every event feed handed out, this view's and every other view's of the same service. */
    private readonly feeds = new AbortController(),
  ) {
    this.control = element.control;
  }

  /** The same element, acting for `actor` (the daemon makes one per caller). */
  as(actor: Actor): ElementService {
    return new ElementService(this.element, actor, this.feeds);
  }

  status(): Promise<ElementStatus> {
    return this.proven(() => this.control.status());
  }

  submit(type: RequestType, format?: string, unlinkable?: boolean): Promise<Notification> {
    onlyResetUnlinkable(type, unlinkable);
    return this.control.submit(
      {
        type,
        ...(format === undefined ? {} : { format: parseFormat(format, this.control.capacity) }),
        ...(unlinkable ? { unlinkable } : {}),
      },
      this.actor,
    );
  }

  initFactory(factory: FactoryKind, format?: string): Promise<Notification> {
    return this.control.submit(
      {
        type: "init",
        factory,
        ...(format === undefined ? {} : { format: parseFormat(format, this.control.capacity) }),
      },
      this.actor,
    );
  }

  switchMode(mode: ElementMode, unlinkable?: boolean): Promise<Notification> {
    if (unlinkable && mode !== "random") {
      throw new UsageError(
        "only a switch to random mode can be unlinkable: factory mode restores the factory identity",
      );
    }
    return this.control.switchMode(mode, this.actor, unlinkable === true);
  }

  async schedule(type: RequestType, format: string | undefined, at: string, unlinkable?: boolean) {
    onlyResetUnlinkable(type, unlinkable);
    // Checked now, so a request never waits only to fail on its format at its time.
    if (format !== undefined) parseFormat(format, this.control.capacity);
    const when = scheduleTime(at, this.control.time());
    return this.control.schedule(
      { type, ...(format === undefined ? {} : { format }), ...(unlinkable ? { unlinkable } : {}), at: when },
      this.actor,
    );
  }

  cancelScheduled(id: string) {
    return this.control.cancelScheduled(scheduleId(id), this.actor);
  }

  setSingleType(on: boolean): Promise<ElementStatus> {
    return this.control.setSingleType(on, this.actor);
  }

  seal(key?: SealingKeyKind, rotate?: boolean): Promise<ElementStatus> {
    return this.control.seal(this.actor, key ?? null, rotate === true);
  }

  unseal(): Promise<ElementStatus> {
    return this.control.unseal(this.actor);
  }

  setPasskeysBypassLockout(on: boolean): Promise<ElementStatus> {
    return this.control.setPasskeysBypassLockout(on, this.actor);
  }

  unlock(seconds: number): Promise<{ until: string }> {
    return this.control.unlock(seconds, this.actor);
  }

  lock(): Promise<{ was: string | null }> {
    return this.control.lock(this.actor);
  }

  keys(): Promise<PublicKeys> {
    return this.withKeys((keys) => ({
      handle: keys.handle,
      ed25519: hex(keys.ed25519.publicKey),
      x25519: hex(keys.x25519.publicKey),
      p256: hex(keys.p256.publicKey),
    }));
  }

  async certificate(algorithm: SigningAlgorithm, days: number): Promise<string> {
    const { selfSignedCertificate } = await import("../derive/certificate.js");
    return this.withKeys((keys) => selfSignedCertificate(keys, { algorithm, days, now: new Date() }));
  }

  async certificationRequest(algorithm: SigningAlgorithm, subject?: string): Promise<string> {
    const { certificationRequest, parseDistinguishedName } = await import("../derive/certificate.js");
    let name: ReturnType<typeof parseDistinguishedName> | undefined;
    if (subject !== undefined) {
      try {
        name = parseDistinguishedName(subject);
      } catch (error) {
        throw new UsageError(
          `bad --subject '${subject}': ${(error as Error).message}; expected a distinguished name such as 'CN=sensor-7, O=Acme'`,
        );
      }
    }
    return this.withKeys((keys) => certificationRequest(keys, { algorithm, subject: name }));
  }

  async sign(algorithm: SigningAlgorithm, message: Uint8Array) {
    const { sign } = await import("../derive/signature.js");
    return this.withKeys((keys) => ({ signature: sign(algorithm, keys, message), handle: keys.handle }));
  }

  async verify(algorithm: SigningAlgorithm, message: Uint8Array, signature: Uint8Array) {
    const { signingPublicKey, verify } = await import("../derive/signature.js");
    return this.withKeys((keys) => ({
      valid: verify(algorithm, signingPublicKey(keys, algorithm), message, signature),
      handle: keys.handle,
    }));
  }

  async exportWrapped(wrapKey: Uint8Array) {
    const { wrapWithPadding } = await import("../derive/key-wrap.js");
    return this.control.exportIdentifier(this.actor, (identifier, record) => ({
      wrapped: wrapWithPadding(wrapKey, identifier),
      generation: record.generation,
      handle: record.handle as string,
    }));
  }

  async setPin(newPin: string) {
    return { recoveryCode: await this.control.setPin(newPin, this.actor) };
  }

  async unlockPin(recoveryCode: string) {
    return { recoveryCode: await this.control.unlockPin(recoveryCode, this.actor) };
  }

  async auditLog() {
    return this.control.auditLog(this.actor.credentials);
  }

  events(): Feed<ElementEvent> {
    const control = this.control;
    return {
      subscribe: (listener) => {
        const stops = [control.onNotification(listener), control.onBindingEvent(listener)];
        return () => {
          for (const stop of stops) stop();
        };
      },
      // A binding event names what happened ("bound", "command"...); a request's notification its type.
      name: (event) => ("event" in event ? "binding" : "request"),
      until: this.feeds.signal,
    };
  }

  /** Ends the event feeds (their streams finish their responses): the first step of closing. */
  endFeeds(): void {
    this.feeds.abort();
  }

  signIn(): Promise<{ principal: string }> {
    return this.control.signIn(this.actor);
  }

  refuseProof(operation: string, reason: ProofRefusal): Promise<never> {
    return this.control.refuseProof(operation, reason, this.actor);
  }

  async listPasskeys(): Promise<PasskeyInfo[]> {
    return this.control.listPasskeys();
  }

  passkeyUser(): Promise<{ userId: string }> {
    return this.control.passkeyUser();
  }

  addPasskey(registration: PasskeyRegistration): Promise<{ id: string; created: string }> {
    return this.control.addPasskey(registration, this.actor);
  }

  removePasskey(id: string): Promise<{ removed: string }> {
    return this.control.removePasskey(id, this.actor);
  }

  close(): Promise<void> {
    this.endFeeds();
    return this.element.close();
  }

  /** Derives the keys for one operation and wipes them after (derive/derived-keys.ts). */
  private async withKeys<T>(task: (keys: DerivedKeys) => T | Promise<T>): Promise<T> {
    const { withDerivedKeys } = await import("../derive/derived-keys.js");
    return this.proven(() =>
      this.control.useIdentifier((identifier, record) =>
        withDerivedKeys(this.control.storeDirectory, identifier, record.handle, task),
      ),
    );
  }

  /** A read of the record, with the caller's PIN at hand for a TPM that needs it (ControlUnit.readAs). */
  private proven<T>(read: () => Promise<T>): Promise<T> {
    return this.control.readAs(this.actor, read);
  }
}

/** Unlinkable is a kind of reset (docs/spec.md §10.9): asked of any other request, it is bad input. */
function onlyResetUnlinkable(type: RequestType, unlinkable: boolean | undefined): void {
  if (unlinkable && type !== "reset") throw new UsageError("only a reset can be unlinkable");
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
