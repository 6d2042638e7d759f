import { clientOf } from "../http/call.js";
import type { PageApi } from "../web/links.js";
import { PAGE_OPERATIONS } from "./operations.js";

/** The owner's page as the daemon's socket serves it (made from PAGE_OPERATIONS): its sign-in link. */
export const RemotePage = clientOf<PageApi>()(PAGE_OPERATIONS);
