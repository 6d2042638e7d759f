import type { Actor } from "../auth/actor.js";
import type { OwnerPin } from "../auth/owner-pin.js";
import { StorageError } from "../errors.js";

/** Runs an owner operation outside the store, audited under `name` (the gate is the caller's). */
export type Audited = <T>(name: string, actor: Actor, work: () => Promise<T>) => Promise<T>;

/** What status tells of the owner PIN: set or not, wrong tries so far, locked (never the PIN itself). */
export interface OwnerSummary {
  readonly pin: boolean;
  readonly failures: number;
  readonly locked: boolean;
}

/** The owner's own PIN: setting, changing and unlocking it, each audited. */
export class PinOperations {
  constructor(
    private readonly pin: OwnerPin | null,
    private readonly audited: Audited,
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
      const code = await owner.set(newPin, actor.credentials);
      await this.keyAudit();
      return code;
    });
  }

  /** Unlocks after too many wrong PINs; the recovery code is spent and a new one returned. */
  unlock(recoveryCode: string, actor: Actor): Promise<string> {
    const owner = this.owner();
    return this.audited("pin-unlock", actor, () => owner.unlock(recoveryCode));
  }

  summary(): OwnerSummary {
    const { set, failures, locked } = this.pin?.summary() ?? { set: false, failures: 0, locked: false };
    return { pin: set, failures, locked };
  }

  private owner(): OwnerPin {
    if (!this.pin) throw new StorageError("this element has no owner PIN state", "no-owner");
    return this.pin;
  }
}
