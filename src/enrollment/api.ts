import type { SigningAlgorithm } from "../derive/signature.js";

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
/** What `reid enroll` sends the registry: the CSR of the derived key, and the identity it names. */
export interface EnrollmentRequest {
  /** PEM PKCS#10, subject CN = the handle (as `reid csr` makes it). */
  readonly request: string;
  readonly handle: string;
  readonly generation: number;
}

export interface EnrollmentApi {
  /**
   * The CSR `reid enroll` sends to `registry` (its origin, for the audit record): an owner
   * operation, refused without the owner's proof once a PIN is set, before anything is sent.
   */
  enrollmentRequest(algorithm: SigningAlgorithm, registry: string): Promise<EnrollmentRequest>;
  /** Re-enrolls the same key with the enrollment's registry; the new certificate replaces the old. */
  renew(): Promise<Renewal>;
}
