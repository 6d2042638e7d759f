import type { PasskeyProof } from "./proofs.js";

/** What proves the owner: the PIN, when one is set, or a fresh assertion of a registered passkey. */
export interface Credentials {
  readonly pin?: string;
  /**
   * Whose count a PIN try goes on: the page's own (docs/spec.md §2.8), which locks PIN entry on the
   * page and never the element. Set only by the page, in the daemon's process; the socket's
   * credentials (a header) cannot carry it.
   */
  readonly tries?: "page";
  /** Checked by the owner gate itself; only surfaces in the daemon's process hand one on. */
  readonly passkey?: PasskeyProof;
}

/**
 * Who asks, and with what proof: the audit log records the principal, the owner gate checks the
 * credentials. The principal is a label the surface vouches for ("cli", "web:pin",
 * "web:passkey:<id>", "scheduler"), never a secret.
 */
export interface Actor {
  readonly principal: string;
  readonly credentials?: Credentials;
  /**
   * Not asked for a proof by the gate: a due scheduled request (on the authority checked when it
   * was scheduled), or an operation that checks the proof itself (a PIN change).
   */
  readonly preauthorized?: boolean;
  /**
   * May pass the gate without a proof while the owner's unlock window is open and covers the
   * operation (docs/spec.md §2.8): set by the daemon's socket alone, for the owner's account.
   */
  readonly windowed?: boolean;
}

export const LOCAL_CLI: Actor = { principal: "cli" };

/**
 * The owner's unlock window (docs/spec.md §2.8), which lets a windowed actor through: the longest a
 * working day, as sudo's and ssh-agent's are meant for a session, not a week. Here, beside the
 * actor, so that every surface (the page included) reads the same bounds.
 */
export const MAX_UNLOCK_SECONDS = 12 * 3600;
export const DEFAULT_UNLOCK_SECONDS = 15 * 60;
