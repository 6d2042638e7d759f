import { UsageError } from "../errors.js";
import { MAX_UNLOCK_SECONDS } from "./actor.js";

/**
 * The operations a window lets through without a fresh proof: the owner's scripts talking to
 * their bound devices, and enrolling or renewing with a registry (a renewal is the kind of thing a
 * timer of the owner's asks for). `keys` and `sign` need no proof at all (docs/spec.md §2.8).
 * Anything that changes the identifier, the owner's secrets or what the element will do later
 * (init, reset, erase, mode, pin, seal, export, schedule, config, bind, unbind, pair) always needs
 * a fresh one.
 */
const COVERED = [/^command:[a-z][a-z0-9-]{0,31}$/, /^telemetry$/, /^enroll$/, /^renew$/];

/**
 * The owner's unlock window, like `ssh-add -t` or sudo's timestamp (docs/spec.md §2.8): after one
 * proof, the operations COVERED names from the owner's account pass the gate without the PIN until
 * the window ends or is closed. It lives in the daemon's memory only: nothing on disk to copy or
 * forge, and a daemon that stops ends it. Its clock is the element's (the daemon's, injectable).
 */
export class UnlockWindow {
  private until: Date | null = null;

  constructor(private readonly now: () => Date) {}

  /** Opens (or moves) the window to end `seconds` from now; returns its end. */
  open(seconds: number): Date {
    this.until = new Date(this.now().getTime() + unlockSeconds(seconds) * 1000);
    return this.until;
  }

  /** Closes the window; returns the end it had, or null when none was open. */
  close(): Date | null {
    const was = this.openUntil();
    this.until = null;
    return was;
  }

  /** The open window's end, or null (never opened, closed, or over). */
  openUntil(): Date | null {
    if (this.until !== null && this.until.getTime() <= this.now().getTime()) this.until = null;
    return this.until;
  }

  /** Whether the window is open and lets operation `name` through. */
  covers(name: string): boolean {
    return this.openUntil() !== null && COVERED.some((pattern) => pattern.test(name));
  }
}

/** A window's length in whole seconds, 1 to MAX_UNLOCK_SECONDS; anything else is bad input. */
export function unlockSeconds(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_UNLOCK_SECONDS) {
    throw new UsageError(`an unlock window lasts 1 s to ${MAX_UNLOCK_SECONDS / 3600} h`);
  }
  return seconds;
}

/**
 * A duration as `reid unlock --for` takes it: `Ns`, `Nm` or `Nh` (digits, at most 5), 1 s to 12 h.
 * Returns the seconds, or null when the text is not one.
 */
export function parseUnlockDuration(text: string): number | null {
  const match = /^([0-9]{1,5})([smh])$/.exec(text);
  if (!match) return null;
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
  return seconds >= 1 && seconds <= MAX_UNLOCK_SECONDS ? seconds : null;
}
