import type { EnrollmentApi, Renewal } from "./api.js";
import type { RenewingElement } from "./renew.js";

/** The enrollment's operations on an open element; the EST and X.509 code loads on first use. */
export class EnrollmentService implements EnrollmentApi {
  constructor(private readonly element: RenewingElement) {}

  async renew(): Promise<Renewal> {
    const { renewEnrollment } = await import("./renew.js");
    return renewEnrollment(this.element);
  }
}
