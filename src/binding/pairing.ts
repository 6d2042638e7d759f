import { randomInt } from "node:crypto";
import { AuthError, StateError, UsageError } from "../errors.js";
import { durationSeconds } from "../types/duration.js";

/** Wrong codes a window takes before it closes: an attacker gets this many online guesses per window. */
export const PAIRING_TRIES = 5;
/** The longest window an owner may open (`reid pair --for`): the shorter, the less there is to guess in. */
export const MAX_PAIRING_SECONDS = 600;
export const DEFAULT_PAIRING_SECONDS = 120;

/** Crockford's base32: no I, L, O or U, so a code read aloud or off a screen is typed right. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** 10 characters: 50 bits, shown as two groups of five. */
const CODE_LENGTH = 10;

/** What the owner is shown when a window opens (and nothing of it is kept on disk). */
export interface PairingOpened {
  readonly handle: string;
  /** The setup code, XXXXX-XXXXX: shown to the owner who asked, never logged. */
  readonly code: string;
  /** When the window closes, ISO-8601. */
  readonly until: string;
  readonly tries: number;
}

interface Window {
  readonly id: number;
  readonly handle: string;
  /** The code as both sides key their proof with: uppercase, no separator. */
  readonly code: string;
  readonly until: number;
  tries: number;
}

/**
 * The device's pairing window (docs/spec.md §7.9): opened by its owner, for a while, with a fresh
 * setup code. A bind is taken only inside it and only with a proof keyed by the code; each wrong
 * proof spends a try, the last one closes the window, and a bind that succeeds closes it too (the
 * code is single-use). Kept in the daemon's memory only: a restart closes it.
 */
export class PairingWindow {
  private window: Window | null = null;
  private opened = 0;

  constructor(private readonly now: () => number = Date.now) {}

  open(handle: string, seconds: number): PairingOpened {
    const code = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
    const until = this.now() + seconds * 1000;
    this.window = { id: ++this.opened, handle, code, until, tries: PAIRING_TRIES };
    return { handle, code: shown(code), until: new Date(until).toISOString(), tries: PAIRING_TRIES };
  }

  /**
   * The open window's id, for a hello from a user: refused when none is open (for this handle, when
   * given; without one, the check costs nothing, so a stranger's hello is refused before the
   * identifier is read).
   */
  current(handle?: string): number {
    return this.live(handle).id;
  }

  /**
   * The code of window `id`, still open, for the device's check of a bind request; a hello answered
   * in a window that has closed since (expired, spent, reopened) is refused.
   */
  codeOf(id: number, handle?: string): string {
    const window = this.live(handle);
    if (window.id !== id) throw notPairing();
    return window.code;
  }

  /** A wrong code: one try spent, the window closed with the last. */
  wrong(id: number): AuthError {
    const window = this.window;
    if (window && window.id === id && --window.tries <= 0) this.window = null;
    return new AuthError(
      "wrong-code",
      "the setup code is wrong (or the request was altered): ask the device's owner for the code 'reid pair' shows",
    );
  }

  /** A bind stored with the code: the window closes, the code is spent. */
  spend(id: number): void {
    if (this.window?.id === id) this.window = null;
  }

  private live(handle?: string): Window {
    const window = this.window;
    if (!window || window.until < this.now() || (handle !== undefined && window.handle !== handle)) {
      this.window = null;
      throw notPairing();
    }
    return window;
  }
}

function notPairing(): StateError {
  return new StateError(
    "not-pairing",
    "this device is not pairing: ask its owner to run 'reid pair' on it, then bind with the code it shows",
  );
}

function shown(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/**
 * A setup code as the user typed it, in the form both sides key their proof with: case, spaces and
 * dashes do not matter, and O, I and L read as 0, 1 and 1. Anything else is a usage error.
 */
export function setupCode(text: string): string {
  const code = text.trim().toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (code.length !== CODE_LENGTH || [...code].some((ch) => !ALPHABET.includes(ch))) {
    throw new UsageError(
      `a setup code is ${CODE_LENGTH} letters and digits as 'reid pair' shows them (XXXXX-XXXXX)`,
      "bad-code",
    );
  }
  return code;
}

/**
 * What the pairing QR code carries (in the terminal and on the page): where the device serves, its
 * handle and the setup code, for a phone or camera to carry to the user's machine instead of typing
 * them. Specified in docs/spec.md §7.9.
 */
export function pairingUri(opened: {
  readonly address: string;
  readonly handle: string;
  readonly code: string;
}) {
  return `reid-pair://${opened.address}/?handle=${opened.handle}&code=${opened.code}`;
}

/** A window's length in seconds, from whichever surface asked: 1 to MAX_PAIRING_SECONDS. */
export function checkPairingSeconds(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_PAIRING_SECONDS) {
    throw new UsageError(`a pairing window lasts 1 to ${MAX_PAIRING_SECONDS} seconds`);
  }
  return seconds;
}

/** `reid pair --for`: 30s, 2m, 90 (seconds); 1 second to MAX_PAIRING_SECONDS. */
export function pairingSeconds(text: string): number {
  const seconds = durationSeconds(text, "s") ?? 0;
  if (seconds < 1 || seconds > MAX_PAIRING_SECONDS) {
    throw new UsageError(
      `bad --for '${text.slice(0, 20)}': a duration such as 30s or 2m, at most ${MAX_PAIRING_SECONDS / 60}m`,
    );
  }
  return seconds;
}
