import { UsageError } from "../errors.js";

/**
 * The reasons an operator may revoke for: RFC 5280's CRLReason names that fit one device's
 * certificate. `superseded` is the registry's own (a succession sets it), and the CA-level ones
 * (cACompromise, aACompromise, certificateHold, removeFromCRL) do not apply to a device.
 */
export const REVOCATION_REASONS = [
  "keyCompromise",
  "affiliationChanged",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "unspecified",
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** --reason: one of REVOCATION_REASONS exactly. */
export function revocationReason(text: string | undefined): RevocationReason {
  const known = REVOCATION_REASONS as readonly string[];
  if (text !== undefined && known.includes(text)) return text as RevocationReason;
  const given =
    text === undefined ? "'reid registry revoke' needs --reason REASON" : `bad --reason '${text}'`;
  throw new UsageError(`${given}: one of ${REVOCATION_REASONS.join(", ")}`);
}
