import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { AuthError, describeOsError, StateError, StorageError, UsageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import { AUDIT_KEY_AREA, type TpmOwnerAuth } from "../storage/tpm-owner-auth.js";
import type { Credentials } from "./actor.js";
import {
  checks,
  newPinSalt,
  PIN_KDF,
  pinCheck,
  pinSecret,
  tpmAuthValue,
  unwrapUnder,
  wrapUnder,
} from "./owner-secret.js";

/** The recovery code's argon2id: OWASP's floor, as the PIN's (owner-secret.ts). */
const ARGON2 = { algorithm: 2, ...PIN_KDF } as const;
export const MAX_FAILURES = 5;
const MIN_PIN = 6;
export const MAX_PIN = 128;
const FILE = "owner.json";

/** Wrong PINs in a row on one count, and when the last was. */
interface Tries {
  readonly failures: number;
  readonly lastFailure: string | null;
}

/** The PIN's salt and check (owner-secret.ts), hex: one argon2id gives the check and the TPM's authValue. */
interface PinCheck {
  readonly salt: string;
  readonly check: string;
}

/**
 * NV indices still under the previous PIN's authValue, which only the current PIN opens (a move):
 * the areas 0 and 1, and the audit key's index (AUDIT_KEY_AREA).
 */
interface NvMove {
  readonly areas: readonly number[];
  readonly previous: string;
}

interface OwnerState extends Tries {
  /** 1: `pin` is an argon2id encoding (earlier versions); 2: the salt and check. */
  readonly version: 1 | 2;
  readonly pin: string | PinCheck;
  /** An argon2id encoding: it carries its own salt and parameters. */
  readonly recovery: string;
  /** The page's own count (absent: none yet); `failures` is everyone else's. */
  readonly page?: Tries;
  /** Whether passkeys still pass while the element is locked (absent: no). */
  readonly passkeysBypassLockout?: boolean;
  readonly nv?: NvMove;
}

type Count = "element" | "page";
const NO_TRIES: Tries = { failures: 0, lastFailure: null };

/**
 * The owner gate (patent FIG. 2, step 204: only an authenticated user operation configures the
 * element). Once a PIN is set, every owner operation must present it. Wrong PINs count against a
 * persisted counter, written before the PIN is even checked, so killing the process cannot undo
 * a try: each failure doubles the wait before the next try (1 s, 2 s, 4 s, 8 s) and the fifth locks
 * the element until the one-time recovery code unlocks it. PINs typed on the owner's page count
 * apart, with the same back-off: their fifth locks PIN entry on the page only, so whoever reaches
 * the page cannot lock the owner out of the terminal. The comparison is argon2id's own, constant-time.
 * Specified in docs/spec.md §2.8.
 */
export class OwnerPin {
  constructor(
    private readonly directory: string,
    private readonly now: () => Date = () => new Date(),
    /** Where a proven PIN's TPM authValue is held for the NV area (docs/spec.md §5.7). */
    private readonly tpmAuth: TpmOwnerAuth | null = null,
  ) {
    tpmAuth?.onSettled(() => this.settled());
    tpmAuth?.onMoved((areas) => this.moved(areas));
  }

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
    const count: Count = credentials.tries === "page" ? "page" : "element";
    // A locked element takes no PIN from anywhere; a locked page only from the page.
    if (state.failures >= MAX_FAILURES) throw new AuthError("locked", lockedMessage());
    const tries = triesOf(state, count);
    this.checkNotLocked(tries, count);
    // Counted before it is checked: a try cannot be taken back by killing the process.
    const failures = tries.failures + 1;
    this.write(withTries(state, count, { failures, lastFailure: this.now().toISOString() }));
    const proof = await this.secretOf(state, credentials.pin);
    if (proof) {
      const { secret, upgrade } = proof;
      try {
        const proven = withTries(state, count, NO_TRIES);
        this.write(upgrade ? { ...proven, version: 2, pin: upgrade } : proven);
        this.hold(this.read() as OwnerState, secret);
      } finally {
        secret.fill(0);
      }
      return;
    }
    if (failures >= MAX_FAILURES) throw lockedError(count);
    const locks = count === "page" ? "PIN entry on the page locks" : "the element locks";
    throw new AuthError("wrong-pin", `wrong PIN (${tryCount(MAX_FAILURES - failures)} left before ${locks})`);
  }

  /**
   * Sets the PIN, or changes it (then `current` must carry the present one). Returns the recovery
   * code when a new one was made (on the first set), to be shown once and never stored in clear.
   * `proven`: the caller has just authorized `current` itself.
   */
  async set(newPin: string, current: Credentials | undefined, proven = false): Promise<string | null> {
    checkPin(newPin);
    const state = this.read();
    if (state && !proven) await this.authorize(current);
    const { hash } = await import("@node-rs/argon2");
    const recoveryCode = state ? null : newRecoveryCode();
    const salt = newPinSalt();
    const secret = await pinSecret(newPin, salt);
    try {
      // The indices defined now keep the authValue they have until the commit that follows moves
      // the record to the other one, defined under the new PIN's; owner.json keeps the old value
      // meanwhile, under the new PIN, so a crash in between loses neither (docs/spec.md §5.7).
      const areas = this.tpmAuth ? await this.tpmAuth.definedAreas() : [];
      const previous = this.tpmAuth?.value() ?? new Uint8Array(0);
      this.write({
        version: 2,
        pin: { salt: salt.toString("hex"), check: pinCheck(secret).toString("hex") },
        recovery: state ? state.recovery : await hash(recoveryCode as string, ARGON2),
        ...NO_TRIES,
        // A PIN change keeps the owner's choice about passkeys.
        ...(state?.passkeysBypassLockout ? { passkeysBypassLockout: true } : {}),
        ...(areas.length > 0 ? { nv: { areas, previous: wrapUnder(secret, previous) } } : {}),
      });
      this.hold(this.read() as OwnerState, secret);
    } finally {
      secret.fill(0);
    }
    return recoveryCode;
  }

  /**
   * Before a passkey is checked: a locked element (five wrong PINs outside the page) takes no
   * passkey either, unless the owner chose otherwise (`config passkeys-bypass-lockout on`). The
   * page's own lock leaves passkeys alone: it is what a stranger with the page's link can cause,
   * and a passkey is then the owner's way back in (docs/spec.md §2.8).
   */
  checkPasskeyAllowed(): void {
    const state = this.read();
    if (state && state.failures >= MAX_FAILURES && !state.passkeysBypassLockout) {
      throw new AuthError(
        "locked",
        `${lockedMessage()} (passkeys too, unless 'reid config passkeys-bypass-lockout on')`,
      );
    }
  }

  /** Lets passkeys pass a locked element, or not; there must be a PIN to be locked out of. */
  setPasskeysBypassLockout(on: boolean): void {
    const state = this.read();
    if (!state) {
      throw new StateError(
        "no-pin",
        "no PIN is set, so there is no lockout for passkeys to bypass: run 'reid pin set'",
      );
    }
    const { passkeysBypassLockout: _was, ...rest } = state;
    this.write(on ? { ...rest, passkeysBypassLockout: true } : rest);
  }

  /** Whether the owner lets passkeys pass a locked element (`config passkeys-bypass-lockout`). */
  passkeysBypassLockout(): boolean {
    return this.read()?.passkeysBypassLockout === true;
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
    // Both counts: the recovery code unlocks the element and PIN entry on the page alike.
    const { page: _page, ...rest } = state;
    this.write({ ...rest, recovery: await hash(next, ARGON2), ...NO_TRIES });
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

  /**
   * The PIN's secret when `pin` is the right one (its check compared in constant time), else null.
   * A PIN kept by an earlier version as its own argon2id takes the new form (`upgrade`) once it is
   * proven, at the cost of one more argon2id that once, so its secret gives the TPM's authValue.
   */
  private async secretOf(
    state: OwnerState,
    pin: string,
  ): Promise<{ secret: Buffer; upgrade?: PinCheck } | null> {
    if (typeof state.pin === "string") {
      if (!(await this.matches(state.pin, pin))) return null;
      const salt = newPinSalt();
      const secret = await pinSecret(pin, salt);
      return { secret, upgrade: { salt: salt.toString("hex"), check: pinCheck(secret).toString("hex") } };
    }
    const secret = await pinSecret(pin, Buffer.from(state.pin.salt, "hex"));
    if (checks(secret, Buffer.from(state.pin.check, "hex"))) return { secret };
    secret.fill(0);
    return null;
  }

  /** Hands the TPM's authValue, and a move's previous one, to the holder. */
  private hold(state: OwnerState, secret: Uint8Array): void {
    if (!this.tpmAuth) return;
    const value = tpmAuthValue(secret);
    const previous = state.nv ? unwrapUnder(secret, state.nv.previous) : null;
    try {
      this.tpmAuth.hold(value, previous && state.nv ? { value: previous, areas: state.nv.areas } : null);
    } finally {
      value.fill(0);
      previous?.fill(0);
    }
  }

  /**
   * One index under the previous authValue is undefined: owner.json lists the others only, so
   * that the index, once defined again under the value in force, is not taken for the previous
   * value's (the audit key's index moves apart from the areas').
   */
  private moved(areas: number[]): void {
    const state = this.read();
    if (!state?.nv) return;
    this.write({ ...state, nv: { ...state.nv, areas } });
  }

  /** The move is done: owner.json forgets the previous authValue. */
  private settled(): void {
    const state = this.read();
    if (!state?.nv) return;
    const { nv: _nv, ...rest } = state;
    this.write(rest);
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

  private checkNotLocked(state: Tries, count: Count): void {
    if (state.failures >= MAX_FAILURES) throw lockedError(count);
    if (state.failures > 0 && state.lastFailure) {
      const wait = 2 ** (state.failures - 1) * 1000;
      // At most the whole wait: a clock set back after a failure must not stretch it out.
      const left = Math.min(wait, Date.parse(state.lastFailure) + wait - this.now().getTime());
      if (left > 0) {
        // Said as it is: one wrong PIN already makes the next try wait, which is not "too many".
        const wrong = `${state.failures} wrong PIN${state.failures === 1 ? "" : "s"} in a row`;
        throw new AuthError("pin-backoff", `${wrong}: try again in ${Math.ceil(left / 1000)} s`);
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
      !(
        (state?.version === 1 && typeof state.pin === "string") ||
        (state?.version === 2 && validCheck(state.pin) && (state.nv === undefined || validMove(state.nv)))
      ) ||
      typeof state.recovery !== "string" ||
      !validTries(state) ||
      !(state.page === undefined || validTries(state.page)) ||
      !(state.passkeysBypassLockout === undefined || typeof state.passkeysBypassLockout === "boolean")
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

/** "1 try", "4 tries"; "1 wrong try" with an adjective. */
export function tryCount(count: number, adjective = ""): string {
  return `${count} ${adjective}${adjective ? " " : ""}${count === 1 ? "try" : "tries"}`;
}

function validTries(tries: Partial<Tries> | null): boolean {
  return (
    tries !== null &&
    typeof tries === "object" &&
    Number.isSafeInteger(tries.failures) &&
    (tries.failures as number) >= 0 &&
    (tries.lastFailure === null ||
      (typeof tries.lastFailure === "string" && !Number.isNaN(Date.parse(tries.lastFailure))))
  );
}

function validCheck(pin: unknown): boolean {
  const value = pin as Partial<PinCheck> | null;
  return (
    typeof value === "object" &&
    value !== null &&
    typeof value.salt === "string" &&
    /^[0-9a-f]{32}$/.test(value.salt) &&
    typeof value.check === "string" &&
    /^[0-9a-f]{64}$/.test(value.check)
  );
}

function validMove(nv: unknown): boolean {
  const value = nv as Partial<NvMove> | null;
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray(value.areas) &&
    value.areas.every((area) => area === 0 || area === 1 || area === AUDIT_KEY_AREA) &&
    typeof value.previous === "string" &&
    /^([0-9a-f]{2}){28,}$/.test(value.previous)
  );
}

function triesOf(state: OwnerState, count: Count): Tries {
  if (count === "page") return state.page ?? NO_TRIES;
  return { failures: state.failures, lastFailure: state.lastFailure };
}

function withTries(state: OwnerState, count: Count, tries: Tries): OwnerState {
  return count === "page" ? { ...state, page: tries } : { ...state, ...tries };
}

function lockedError(count: Count): AuthError {
  if (count === "element") return new AuthError("locked", lockedMessage());
  return new AuthError(
    "page-locked",
    `PIN entry on the page is locked after ${MAX_FAILURES} wrong PINs there (the element is not): use a passkey, or unlock with 'reid pin unlock' and the recovery code`,
  );
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
