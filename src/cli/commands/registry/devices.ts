import { UsageError } from "../../../errors.js";
import { pages } from "../../../registry/pages.js";
import { DEVICE_PAGE_LIMIT, DEVICE_STATUSES, type DeviceStatus } from "../../../registry/store/store.js";
import type { DeviceView } from "../../../registry/views.js";
import { print } from "../../context.js";
import type { RegistryAction } from "./action.js";
import { READ_DATABASE_OPTIONS } from "./database.js";
import { deviceCount, deviceHeader, deviceLine } from "./fleet-text.js";
import { lineWriter } from "./lines.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";

/**
 * The fleet in handle order, streamed a page at a time: text, a table and a count; JSON, one
 * device per line (docs/spec.md §10.6).
 */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, ...REMOTE_OPTIONS, "status"],
  operands: [0, 0],
  async run(context, args) {
    const status = deviceStatus(args.text("status"));
    await withOperator(args, "devices", async (operator) => {
      const line = lineWriter(context);
      const listing = pages<DeviceView, string>(
        (after) => operator.devices({ status, after, limit: DEVICE_PAGE_LIMIT }),
        (device) => device.handle,
      );
      let count = 0;
      for await (const page of listing) {
        for (const device of page) {
          if (!context.json && count === 0 && !(await line(deviceHeader()))) return;
          if (!(await line(context.json ? JSON.stringify(device) : deviceLine(device)))) return;
          count++;
        }
      }
      if (!context.json) print(context, deviceCount(count, status));
    });
  },
};

function deviceStatus(text: string | undefined): DeviceStatus | undefined {
  if (text === undefined || (DEVICE_STATUSES as readonly string[]).includes(text)) {
    return text as DeviceStatus | undefined;
  }
  throw new UsageError(`bad --status '${text}': one of ${DEVICE_STATUSES.join(", ")}`);
}
