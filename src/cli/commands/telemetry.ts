import { MAX_READINGS, readingCount } from "../../binding/history.js";
import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { deviceAddress } from "../device-address.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] telemetry HOST:PORT [--count N]",
  summary:
    "Fetches the bound device's sensor readings, sealed to this element with HPKE (Auth mode: only the bound device can have sealed them), and prints them opened: a fresh reading, preceded by up to N-1 of the latest the device sampled (N 1..64, default 1).",
  options: { count: { type: "string" } },
  positionals: [1, 1],
  async run(context, values, positionals) {
    const address = deviceAddress(positionals[0] as string);
    const count = countOf(values.count);
    const result = await withBinding(context, "write", (binding) => binding.telemetry(address, count));
    if (context.json) printJson(context, result);
    else for (const r of result.readings) print(context, `${r.time} ${r.sensor} ${r.value}`);
  },
};

function countOf(value: string | boolean | undefined): number {
  if (value === undefined) return 1;
  const count = typeof value === "string" ? readingCount(value) : null;
  if (count === null)
    throw new UsageError(
      `bad --count '${String(value).slice(0, 16)}': expected 1 to ${MAX_READINGS} readings`,
    );
  return count;
}
