import { print, printJson } from "../../context.js";
import { type RegistryAction, rows } from "./action.js";
import { DATABASE_OPTIONS } from "./database.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";

export const action: RegistryAction = {
  options: ["dir", ...DATABASE_OPTIONS, ...REMOTE_OPTIONS, "ttl", "label"],
  operands: [0, 0],
  async run(context, args) {
    const { tokenLabel, tokenTtlSeconds } = await import("../../../registry/tokens.js");
    const ttlSeconds = tokenTtlSeconds(args.text("ttl"));
    const label = tokenLabel(args.text("label"));
    const issued = await withOperator(args, "token create", (operator) =>
      operator.createToken(ttlSeconds, label),
    );
    // The one place the token is shown: the operator asked for it.
    if (context.json) return printJson(context, issued);
    const entries: [string, string][] = [
      ["token", issued.token],
      ["expires", `${issued.expiresAt} (single use)`],
    ];
    if (issued.label !== null) entries.push(["label", issued.label]);
    print(context, rows(entries, 7));
  },
};
