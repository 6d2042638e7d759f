import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { AuthError, describeOsError, StorageError, UsageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import type { Credentials } from "./actor.js";

/** OWASP's argon2id floor: 19 MiB, two passes, one lane. */
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const MAX_FAILURES = 5;
const MIN_PIN = 6;
export const MAX_PIN = 128;
const FILE = "owner.json";

interface OwnerState {
  readonly version: 1;
  /** argon2id encodings: they carry their own salt and parameters. */
  readonly pin: string;
  readonly recovery: string;
  readonly failures: number;
  readonly lastFailure: string | null;
}

/**
 * The owner gate (patent FIG. 2, step 204: only an authenticated user operation configures the
 * element). Once a PIN is set, every owner operation must present it. Wrong PINs count against a
 * persisted counter, written before the PIN is even checked, so killing the process cannot undo
 * a try: each failure doubles the wait before the next try (1 s, 2 s, 4 s, 8 s) and the fifth locks
 * the element until the one-time recovery code unlocks it. The comparison is argon2id's own,
 * constant-time.
 * Specified in docs/spec.md §2.8.
 */
export class OwnerPin {
  constructor(
    private readonly directory: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Whether a PIN is set. */
  isSet(): boolean {
    return this.read() !== null;
  }

  /** Throws an AuthError unless `credentials` carry the PIN (or no PIN is set). */
  async authorize(credentials: Credentials | undefined): Promise<void> {
    const state = this.read();
    if (!state) return;
    if (credentials?.pin === undefined) {
      throw new AuthError(
        "pin-required",
        "a PIN is set: give it with --pin-file FILE, REID_PIN or at the prompt",
      );
    }
    // Refused before it is counted, as every surface refuses it: no PIN is empty or that long.
    checkGivenPin(credentials.pin, "the PIN");
    this.checkNotLocked(state);
    // Counted before it is checked: a try cannot be taken back by killing the process.
    const failures = state.failures + 1;
    this.write({ ...state, failures, lastFailure: this.now().toISOString() });
    if (await this.matches(state.pin, credentials.pin)) {
      this.write({ ...state, failures: 0, lastFailure: null });
      return;
    }
    throw failures >= MAX_FAILURES
      ? new AuthError("locked", lockedMessage())
      : new AuthError(
          "wrong-pin",
          `wrong PIN (${MAX_FAILURES - failures} tries left before the element locks)`,
        );
  }

  /**
   * Sets the PIN, or changes it (then `current` must carry the present one). Returns the recovery
   * code when a new one was made (on the first set), to be shown once and never stored in clear.
   */
  async set(newPin: string, current: Credentials | undefined): Promise<string | null> {
    checkPin(newPin);
    const state = this.read();
    if (state) await this.authorize(current);
    const { hash } = await import("@node-rs/argon2");
    const recoveryCode = state ? null : newRecoveryCode();
    this.write({
      version: 1,
      pin: await hash(newPin, ARGON2),
      recovery: state ? state.recovery : await hash(recoveryCode as string, ARGON2),
      failures: 0,
      lastFailure: null,
    });
    return recoveryCode;
  }

  /** Unlocks with the recovery code; it is spent, and a new one is returned in its place. */
  async unlock(recoveryCode: string): Promise<string> {
    const state = this.read();
    if (!state) throw new UsageError("no PIN is set, so there is nothing to unlock");
    if (!(await this.matches(state.recovery, normalizeRecovery(recoveryCode)))) {
      throw new AuthError("wrong-recovery-code", "wrong recovery code");
    }
    const next = newRecoveryCode();
    const { hash } = await import("@node-rs/argon2");
    this.write({ ...state, recovery: await hash(next, ARGON2), failures: 0, lastFailure: null });
    return next;
  }

  /** Tries used and the lock state, for status and the page (no secrets). */
  summary(): { readonly set: boolean; readonly failures: number; readonly locked: boolean } {
    const state = this.read();
    return {
      set: state !== null,
      failures: state?.failures ?? 0,
      locked: (state?.failures ?? 0) >= MAX_FAILURES,
    };
  }

  /** argon2id's own verification (its comparison is constant-time); a hash it cannot read is corrupt state. */
  private async matches(encoded: string, secret: string): Promise<boolean> {
    const { verify } = await import("@node-rs/argon2");
    try {
      return await verify(encoded, secret);
    } catch {
      throw new StorageError(`the owner PIN state in ${this.directory} is corrupt`, "store-corrupt");
    }
  }

  private checkNotLocked(state: OwnerState): void {
    if (state.failures >= MAX_FAILURES) throw new AuthError("locked", lockedMessage());
    if (state.failures > 0 && state.lastFailure) {
      const wait = 2 ** (state.failures - 1) * 1000;
      // At most the whole wait: a clock set back after a failure must not stretch it out.
      const left = Math.min(wait, Date.parse(state.lastFailure) + wait - this.now().getTime());
      if (left > 0) {
        throw new AuthError("pin-backoff", `too many wrong PINs: try again in ${Math.ceil(left / 1000)} s`);
      }
    }
  }

  private read(): OwnerState | null {
    let text: string | null;
    try {
      text = readOptionalFile(join(this.directory, FILE));
    } catch (error) {
      throw new StorageError(`cannot read the owner PIN state: ${describeOsError(error)}`);
    }
    if (text === null) return null;
    let state: Partial<OwnerState> | null;
    try {
      state = JSON.parse(text) as Partial<OwnerState> | null;
    } catch {
      state = null;
    }
    if (
      state?.version !== 1 ||
      typeof state.pin !== "string" ||
      typeof state.recovery !== "string" ||
      !Number.isSafeInteger(state.failures) ||
      (state.failures as number) < 0 ||
      !(
        state.lastFailure === null ||
        (typeof state.lastFailure === "string" && !Number.isNaN(Date.parse(state.lastFailure)))
      )
    ) {
      throw new StorageError(`the owner PIN state in ${this.directory} is corrupt`, "store-corrupt");
    }
    return state as OwnerState;
  }

  private write(state: OwnerState): void {
    try {
      replaceFile(join(this.directory, FILE), JSON.stringify(state));
    } catch (error) {
      throw new StorageError(`cannot write the owner PIN state: ${describeOsError(error)}`);
    }
  }
}

/**
 * A PIN as someone gives it, before it is compared: 1 to MAX_PIN characters (code points). Whether
 * it is the right one the gate decides; a new PIN must also pass checkPin.
 */
export function checkGivenPin(pin: string, what: string): void {
  const length = [...pin].length;
  if (length < 1 || length > MAX_PIN) throw new UsageError(`${what} must have 1 to ${MAX_PIN} characters`);
}

export function checkPin(pin: string): void {
  const length = [...pin].length;
  if (length < MIN_PIN || length > MAX_PIN || /[\r\n\0]/.test(pin)) {
    throw new UsageError(`a PIN has ${MIN_PIN} to ${MAX_PIN} characters and no line breaks`, "bad-pin");
  }
}

function lockedMessage(): string {
  return `the element is locked after ${MAX_FAILURES} wrong PINs: unlock it with 'reid pin unlock' and the recovery code`;
}

/** 100 bits as 20 base32 characters in groups of four: ABCD-EFGH-... */
function newRecoveryCode(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = randomBytes(20);
  const code = [...bytes].map((b) => alphabet[b & 31]).join("");
  bytes.fill(0);
  return code.match(/.{4}/g)?.join("-") ?? code;
}

function normalizeRecovery(code: string): string {
  const plain = code.toUpperCase().replace(/[^A-Z0-9]/g, "");
  return plain.match(/.{1,4}/g)?.join("-") ?? plain;
}
