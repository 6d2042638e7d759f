import type { Actor } from "../auth/actor.js";
import type { ControlUnit } from "../element/control-unit.js";
import type { EnrollmentApi, Renewal } from "./api.js";
import type { LoadLogWitness } from "./log-witness.js";
import type { RenewingElement } from "./renew.js";

/**
 * The enrollment's operations on an open element, for `actor`: where the backend keeps the
 * identifier under the owner's authorization (a TPM store with a PIN, docs/spec.md §5.7), the PIN
 * the actor gave proves the owner for the read. The EST and X.509 code loads on first use, and the
 * identity log's checks (`witness`) only for an enrollment that verifies the log.
 */
export class EnrollmentService implements EnrollmentApi {
  constructor(
    private readonly element: RenewingElement & Pick<ControlUnit, "readAs">,
    private readonly witness: LoadLogWitness,
    private readonly actor: Actor,
  ) {}

  async renew(): Promise<Renewal> {
    const { renewEnrollment } = await import("./renew.js");
    // Refused for want of a proof before anything is sent: the read runs again once proven.
    return this.element.readAs(this.actor, () => renewEnrollment(this.element, this.witness));
  }
}
