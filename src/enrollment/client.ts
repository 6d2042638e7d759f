import { clientOf } from "../http/call.js";
import type { EnrollmentApi } from "./api.js";
import { ENROLLMENT_OPERATIONS } from "./operations.js";

/** The enrollment's operations asked of the daemon that owns the store (made from ENROLLMENT_OPERATIONS). */
export const RemoteEnrollment = clientOf<EnrollmentApi>()(ENROLLMENT_OPERATIONS);
