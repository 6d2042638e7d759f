import type { EnrollmentApi, Renewal } from "./api.js";
import type { LoadLogWitness } from "./log-witness.js";
import type { RenewingElement } from "./renew.js";

/**
 * The enrollment's operations on an open element; the EST and X.509 code loads on first use, and
 * the identity log's checks (`witness`) only for an enrollment that verifies the log.
 */
export class EnrollmentService implements EnrollmentApi {
  constructor(
    private readonly element: RenewingElement,
    private readonly witness: LoadLogWitness,
  ) {}

  async renew(): Promise<Renewal> {
    const { renewEnrollment } = await import("./renew.js");
    return renewEnrollment(this.element, this.witness);
  }
}
