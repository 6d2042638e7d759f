import { algorithmField } from "../http/algorithm-field.js";
import { defineOperations } from "../http/operation.js";
import { text } from "../http/schema.js";
import type { EnrollmentApi } from "./api.js";

/**
 * The enrollment's operations as the daemon serves them under /v1/enrollment: the daemon holds the
 * keys and talks to the registry for a renewal, the CLI only asks. Owner operations (docs/spec.md
 * §2.8): each makes an identity event at a registry, in the identity's name, so once a PIN is set
 * they take the owner's proof (or an open unlock window). Specified in docs/spec.md §6.4.
 */
export const ENROLLMENT_OPERATIONS = defineOperations<EnrollmentApi>()({
  limit: 1024,
  operations: {
    enrollmentRequest: {
      summary:
        "The CSR of the derived key that reid enroll sends to a registry (PEM), with the handle and generation.",
      method: "POST",
      path: "/v1/enrollment/request",
      owner: true,
      input: {
        algorithm: algorithmField,
        registry: text({
          max: 300,
          pattern: /^https:\/\/[^\s/?#]+$/,
          message: (name) => `'${name}' must be a registry's origin, https://HOST[:PORT]`,
        }),
      },
      args: ["algorithm", "registry"],
    },
    renew: {
      summary: "Renews the enrollment's certificate with its registry over EST (the same key, mTLS).",
      method: "POST",
      path: "/v1/enrollment/renew",
      owner: true,
    },
  },
});
