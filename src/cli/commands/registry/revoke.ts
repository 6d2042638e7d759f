import { revocationReason } from "../../../registry/revocation.js";
import { checkHandle } from "../../../registry/store/store-inputs.js";
import { print, printJson } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { DATABASE_OPTIONS } from "./database.js";
import { revokedText } from "./fleet-text.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";

/** Revokes an active device and its certificate, with its event, in one transaction (§10.6). */
export const action: RegistryAction = {
  options: ["dir", ...DATABASE_OPTIONS, ...REMOTE_OPTIONS, "reason"],
  operands: [1, 1],
  async run(context, args) {
    const handle = args.operands[0] as string;
    checkHandle(handle);
    const reason = revocationReason(args.text("reason"));
    const revoked = await withOperator(args, "revoke", (operator) => operator.revoke(handle, reason));
    if (context.json) printJson(context, revoked);
    else print(context, revokedText(revoked));
  },
};
