import { type Command, print, printJson } from "../context.js";
import { deviceAddress } from "../device-address.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] telemetry HOST:PORT",
  summary:
    "Fetches the bound device's sensor readings, sealed to this element with HPKE (Auth mode: only the bound device can have sealed them), and prints them opened.",
  options: {},
  positionals: [1, 1],
  async run(context, _values, positionals) {
    const address = deviceAddress(positionals[0] as string);
    const result = await withElement(context, "write", async (element) =>
      (await element.binding()).telemetry(address),
    );
    if (context.json) printJson(context, result);
    else for (const r of result.readings) print(context, `${r.time} ${r.sensor} ${r.value}`);
  },
};
