import { defineOperations } from "../http/operation.js";
import type { EnrollmentApi } from "./api.js";

/**
 * The enrollment's operations as the daemon serves them under /v1/enrollment: the daemon holds the
 * keys and talks to the registry, the CLI only asks. Not owner operations, as `reid enroll` is not
 * one (docs/spec.md §2.8): they use the derived key as `sign` does and change nothing of the
 * identifier. Specified in docs/spec.md §6.4.
 */
export const ENROLLMENT_OPERATIONS = defineOperations<EnrollmentApi>()({
  limit: 1024,
  operations: {
    renew: {
      summary: "Renews the enrollment's certificate with its registry over EST (the same key, mTLS).",
      method: "POST",
      path: "/v1/enrollment/renew",
      owner: false,
    },
  },
});
