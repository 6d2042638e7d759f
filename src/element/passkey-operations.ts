import type { Actor } from "../auth/actor.js";
import type { PasskeyStore } from "../auth/passkey-store.js";
import type { PasskeyRegistration } from "../auth/proofs.js";
import { AuthError, ExitCode, ReidError, StorageError } from "../errors.js";
import type { Operate } from "./owner-gate.js";

/** A registered passkey as the owner sees it: never its public key or counter. */
export interface PasskeyInfo {
  /** The credential id, base64url. */
  readonly id: string;
  readonly transports: readonly string[];
  readonly created: string;
  readonly lastUsed: string | null;
  /** The owner's name for it, or null. */
  readonly name: string | null;
}

/**
 * The owner's passkeys: listing them, registering one (the PIN again, never a passkey) and removing
 * one, each change an owner operation, serialized and audited like every other.
 */
export class PasskeyOperations {
  constructor(
    private readonly passkeys: PasskeyStore | null,
    private readonly operate: Operate,
    private readonly serialize: <T>(task: () => Promise<T>) => Promise<T>,
  ) {}

  list(): PasskeyInfo[] {
    return (this.passkeys?.list() ?? []).map(({ id, transports, created, lastUsed, name }) => ({
      id,
      transports,
      created,
      lastUsed,
      name: name ?? null,
    }));
  }

  /** The owner's WebAuthn user handle (random, not personal), made on first use. */
  user(): Promise<{ userId: string }> {
    const passkeys = this.store();
    return this.serialize(async () => ({ userId: passkeys.userId() }));
  }

  /** Registers a passkey: the gate checks (and counts) the PIN first, then the registration is checked. */
  add(registration: PasskeyRegistration, actor: Actor): Promise<{ id: string; created: string }> {
    const passkeys = this.store();
    return this.operate("passkey-add", actor, async () => {
      // One passkey does not vouch for another: a new credential needs the PIN typed again.
      if (actor.credentials?.passkey) {
        throw new AuthError("pin-required", "registering a passkey needs the owner PIN, not a passkey");
      }
      return passkeys.register(registration);
    });
  }

  remove(id: string, actor: Actor): Promise<{ removed: string }> {
    const passkeys = this.store();
    return this.operate("passkey-remove", actor, async () => {
      if (!passkeys.remove(id)) {
        throw new ReidError("no-such-passkey", ExitCode.state, "no passkey with that id is registered");
      }
      return { removed: id };
    });
  }

  private store(): PasskeyStore {
    if (!this.passkeys) throw new StorageError("this element keeps no passkeys", "no-passkeys");
    return this.passkeys;
  }
}
