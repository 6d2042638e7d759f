import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { AuthError, describeOsError, StorageError, UsageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import { type PasskeyProof, type PasskeyRegistration, proofRefused } from "./proofs.js";
import type { StoredPasskey } from "./webauthn.js";

const FILE = "passkeys.json";
/** Enough for a few phones and security keys; a bound on what the file and the page list. */
export const MAX_PASSKEYS = 16;

interface PasskeyFile {
  readonly version: 1;
  /** The WebAuthn user handle of the owner, base64url: stable, random, not personal. */
  readonly userId: string;
  readonly passkeys: readonly StoredPasskey[];
}

/**
 * The owner's passkeys, a credential beside the PIN: kept in the store directory (passkeys.json,
 * 0600) and replaced whole and durably on every change, so a counter once accepted is never
 * forgotten by a crash. Reads go to the file every time: there is no second copy to disagree with
 * it. The element changes it one operation at a time (its request pipeline), so two uses of one
 * passkey cannot both pass its counter.
 */
export class PasskeyStore {
  private readonly path: string;

  constructor(
    directory: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.path = join(directory, FILE);
  }

  /**
   * Checks a passkey proof: a challenge was issued for it, the passkey is registered, the assertion
   * verifies with user verification and a counter that went up. The new counter is stored before
   * this returns, so before the operation it authorizes runs.
   */
  async verify(proof: PasskeyProof): Promise<void> {
    if (proof.challenge === undefined) throw proofRefused("challenge-expired");
    const stored = this.find(proof.response.id);
    if (!stored) throw new AuthError("unknown-passkey", "this passkey is not registered with this element");
    const { verifyAssertion } = await import("./webauthn.js");
    const counter = await verifyAssertion(stored, proof.response, {
      challenge: proof.challenge,
      origin: proof.origin,
    });
    this.used(stored.id, counter, this.now().toISOString());
  }

  /** Checks a registration (user verification required) and keeps the new passkey. */
  async register(registration: PasskeyRegistration): Promise<{ id: string; created: string }> {
    if (registration.challenge === undefined) throw proofRefused("challenge-expired");
    const { verifyRegistration } = await import("./webauthn.js");
    const passkey = await verifyRegistration(registration.response, {
      challenge: registration.challenge,
      origin: registration.origin,
    });
    const created = this.now().toISOString();
    this.add({ ...passkey, created, ...(registration.name ? { name: registration.name } : {}) });
    return { id: passkey.id, created };
  }

  list(): readonly StoredPasskey[] {
    return this.read()?.passkeys ?? [];
  }

  find(id: string): StoredPasskey | undefined {
    return this.list().find((passkey) => passkey.id === id);
  }

  /** The owner's user handle, made on first use. */
  userId(): string {
    const current = this.read();
    if (current) return current.userId;
    const userId = randomBytes(32).toString("base64url");
    this.write({ version: 1, userId, passkeys: [] });
    return userId;
  }

  private add(passkey: Omit<StoredPasskey, "lastUsed">): void {
    const current = this.read() ?? { version: 1, userId: this.userId(), passkeys: [] };
    if (current.passkeys.some((p) => p.id === passkey.id)) {
      throw new UsageError("this passkey is already registered", "passkey-exists");
    }
    if (current.passkeys.length >= MAX_PASSKEYS) {
      throw new UsageError(`at most ${MAX_PASSKEYS} passkeys can be registered`, "too-many-passkeys");
    }
    this.write({ ...current, passkeys: [...current.passkeys, { ...passkey, lastUsed: null }] });
  }

  /** Records a verified use: the new counter, durable before the use is acted on. */
  private used(id: string, counter: number, time: string): void {
    const current = this.read();
    if (!current) return;
    this.write({
      ...current,
      passkeys: current.passkeys.map((p) => (p.id === id ? { ...p, counter, lastUsed: time } : p)),
    });
  }

  remove(id: string): boolean {
    const current = this.read();
    if (!current?.passkeys.some((p) => p.id === id)) return false;
    this.write({ ...current, passkeys: current.passkeys.filter((p) => p.id !== id) });
    return true;
  }

  private read(): PasskeyFile | null {
    let text: string | null;
    try {
      text = readOptionalFile(this.path);
    } catch (error) {
      throw new StorageError(`cannot read the passkeys: ${describeOsError(error)}`);
    }
    if (text === null) return null;
    let parsed: Partial<PasskeyFile>;
    try {
      parsed = JSON.parse(text) as Partial<PasskeyFile>;
    } catch {
      throw corrupt();
    }
    if (parsed.version !== 1 || typeof parsed.userId !== "string" || !Array.isArray(parsed.passkeys)) {
      throw corrupt();
    }
    for (const p of parsed.passkeys as unknown[]) {
      const entry = p as Partial<StoredPasskey> | null;
      if (
        typeof entry?.id !== "string" ||
        typeof entry.publicKey !== "string" ||
        typeof entry.counter !== "number" ||
        !Array.isArray(entry.transports) ||
        (entry.name !== undefined && typeof entry.name !== "string")
      ) {
        throw corrupt();
      }
    }
    return parsed as PasskeyFile;
  }

  private write(content: PasskeyFile): void {
    try {
      replaceFile(this.path, JSON.stringify(content));
    } catch (error) {
      throw new StorageError(`cannot write the passkeys: ${describeOsError(error)}`);
    }
  }
}

function corrupt(): StorageError {
  return new StorageError(`the passkeys file ${FILE} in the store is corrupt`, "store-corrupt");
}
