import { clientOf } from "../http/call.js";
import type { BindingApi } from "./api.js";
import { BINDING_OPERATIONS } from "./operations.js";

/** The binding operations asked of the daemon that owns the store (made from BINDING_OPERATIONS). */
export const RemoteBinding = clientOf<BindingApi>()(BINDING_OPERATIONS);
