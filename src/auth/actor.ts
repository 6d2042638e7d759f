/** What proves the owner: the PIN, when one is set. */
export interface Credentials {
  readonly pin?: string;
}

/**
 * Who asks, and with what proof: the audit log records the principal, the owner gate checks the
 * credentials. The principal is a label the surface vouches for ("cli", "web:pin",
 * "web:passkey:<id>", "scheduler"), never a secret.
 */
export interface Actor {
  readonly principal: string;
  readonly credentials?: Credentials;
  /** Already authenticated by the surface (a passkey with user verification, a due scheduled request). */
  readonly preauthorized?: boolean;
}

export const LOCAL_CLI: Actor = { principal: "cli" };
