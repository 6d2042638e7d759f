import { checkHandle } from "../../../registry/store/store-inputs.js";
import { print, printJson } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { READ_DATABASE_OPTIONS } from "./database.js";
import { reportText } from "./fleet-text.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";

/** One device: its certificate and its whole succession chain (docs/spec.md §10.6). */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, ...REMOTE_OPTIONS],
  operands: [1, 1],
  async run(context, args) {
    const handle = args.operands[0] as string;
    checkHandle(handle);
    const report = await withOperator(args, "show", (operator) => operator.report(handle));
    if (context.json) printJson(context, report);
    else print(context, reportText(report));
  },
};
