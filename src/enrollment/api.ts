/** A renewed enrollment as `reid renew` shows it: the new certificate's serial and validity, and the one it replaced. */
export interface Renewal {
  readonly registry: string;
  readonly handle: string;
  readonly generation: number;
  readonly algorithm: "ed25519" | "p256";
  readonly serial: string;
  /** The serial of the certificate the renewal replaced (the registry marks it superseded). */
  readonly previous: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly renewedAt: string;
  /** The size of the registry's log verified to hold the renewal (§10.12); null when the enrollment does not verify it. */
  readonly logSize: number | null;
}

/**
 * What the CLI asks of the element about its enrollment with a registry: answered by the element
 * directly (EnrollmentService) or by the daemon that owns the store (RemoteEnrollment), alike. The
 * daemon holds the identifier, so it is the daemon that speaks TLS with the derived key.
 */
export interface EnrollmentApi {
  /** Re-enrolls the same key with the enrollment's registry; the new certificate replaces the old. */
  renew(): Promise<Renewal>;
}
