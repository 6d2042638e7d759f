import type { Actor } from "../auth/actor.js";
import { checkPin, type OwnerPin } from "../auth/owner-pin.js";
import { StorageError } from "../errors.js";

/** Runs an owner operation outside the store, audited under `name` (the gate is the caller's). */
export type Audited = <T>(name: string, actor: Actor, work: () => Promise<T>) => Promise<T>;

/** What status tells of the owner PIN: set or not, wrong tries so far, locked (never the PIN itself). */
export interface OwnerSummary {
  readonly pin: boolean;
  readonly failures: number;
  readonly locked: boolean;
  /** Whether passkeys pass while the element is locked (`config passkeys-bypass-lockout`). */
  readonly passkeysBypassLockout: boolean;
  /** The end of the open unlock window (ISO-8601), or null (docs/spec.md §2.8). */
  readonly unlockedUntil: string | null;
}

/** The owner's own PIN: setting, changing and unlocking it, each audited. */
export class PinOperations {
  constructor(
    private readonly pin: OwnerPin | null,
    private readonly audited: Audited,
    /** After a new PIN: moves what the old PIN's authorization kept (the TPM's NV indices) to it. */
    private readonly move: () => Promise<void> = async () => undefined,
    /** Makes the audit log's key if there is none (a set, or a change of a PIN set before keys). */
    private readonly keyAudit: () => Promise<void> = async () => undefined,
  ) {}

  /**
   * Sets or changes the owner PIN (a change needs the present one in the actor's credentials).
   * Returns the recovery code made by a first set, to show once. The PIN set, the audit log is
   * keyed from its outcome on.
   */
  set(newPin: string, actor: Actor): Promise<string | null> {
    const owner = this.owner();
    return this.audited(owner.isSet() ? "pin-change" : "pin-set", actor, async () => {
      checkPin(newPin);
      if (owner.isSet()) {
        await owner.authorize(actor.credentials);
        // A move an earlier change left unfinished (a crash) ends first: owner.json keeps one
        // previous authValue, so two moves never overlap.
        await this.move();
      }
      const recoveryCode = await owner.set(newPin, actor.credentials, true);
      await this.move();
      await this.keyAudit();
      return recoveryCode;
    });
  }

  /** Unlocks after too many wrong PINs; the recovery code is spent and a new one returned. */
  unlock(recoveryCode: string, actor: Actor): Promise<string> {
    const owner = this.owner();
    return this.audited("pin-unlock", actor, () => owner.unlock(recoveryCode));
  }

  /** Lets passkeys pass a locked element, or not. */
  setPasskeysBypassLockout(on: boolean): void {
    this.owner().setPasskeysBypassLockout(on);
  }

  summary(unlockedUntil: Date | null = null): OwnerSummary {
    return ownerSummary(this.pin, unlockedUntil);
  }

  private owner(): OwnerPin {
    if (!this.pin) throw new StorageError("this element has no owner PIN state", "no-owner");
    return this.pin;
  }
}

/** What status tells of the owner PIN kept in the store directory (`pin`: none without a gate). */
export function ownerSummary(pin: OwnerPin | null, unlockedUntil: Date | null): OwnerSummary {
  const summary = pin?.summary();
  return {
    pin: summary?.set ?? false,
    failures: summary?.failures ?? 0,
    locked: summary?.locked ?? false,
    passkeysBypassLockout: pin?.passkeysBypassLockout() ?? false,
    unlockedUntil: unlockedUntil?.toISOString() ?? null,
  };
}
