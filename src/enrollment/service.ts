import type { Actor } from "../auth/actor.js";
import type { SigningAlgorithm } from "../derive/signature.js";
import type { ControlUnit } from "../element/control-unit.js";
import type { EnrollmentApi, EnrollmentRequest, Renewal } from "./api.js";
import type { LoadLogWitness } from "./log-witness.js";
import type { RenewingElement } from "./renew.js";

/**
 * The enrollment's operations on an open element, for `actor`. Each is an owner operation
 * (docs/spec.md §2.8: `enroll`, `renew`): it uses the identity's key to make an identity event at a
 * registry, so once a PIN is set the gate takes the actor's proof (or lets the daemon's socket
 * through an open unlock window) before anything is derived or sent, and the audit log records
 * it. Where the backend keeps the identifier under the owner's authorization (a TPM store with a
 * PIN, §5.7), that proof also opens the read. The EST and X.509 code loads on first use, and the
 * identity log's checks (`witness`) only for an enrollment that verifies the log.
 */
export class EnrollmentService implements EnrollmentApi {
  constructor(
    private readonly element: RenewingElement & Pick<ControlUnit, "ownerUse">,
    private readonly witness: LoadLogWitness,
    private readonly actor: Actor,
  ) {}

  async enrollmentRequest(algorithm: SigningAlgorithm, registry: string): Promise<EnrollmentRequest> {
    const [{ certificationRequest }, { withDerivedKeys }] = await Promise.all([
      import("../derive/certificate.js"),
      import("../derive/derived-keys.js"),
    ]);
    const directory = this.element.storeDirectory;
    return this.element.ownerUse(
      "enroll",
      this.actor,
      (identifier, record) =>
        withDerivedKeys(directory, identifier, record.handle, async (keys) => ({
          request: await certificationRequest(keys, { algorithm }),
          handle: keys.handle,
          generation: record.generation,
        })),
      () => ({ registry }),
    );
  }

  async renew(): Promise<Renewal> {
    const { renewEnrollment } = await import("./renew.js");
    // The one read of the identifier the renewal runs in is the owner operation `renew`.
    const gated: RenewingElement = {
      storeDirectory: this.element.storeDirectory,
      time: () => this.element.time(),
      useIdentifier: (task) => this.element.ownerUse("renew", this.actor, task),
    };
    return renewEnrollment(gated, this.witness);
  }
}
