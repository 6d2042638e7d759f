import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";

export const command: Command = {
  usage: "reid [--json] discover [--timeout SECONDS]",
  summary:
    "Lists the reid devices advertising _reid._tcp over mDNS on the local network: handle, HOST:PORT and name (listens 2 s by default).",
  options: { timeout: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const text = typeof values.timeout === "string" ? values.timeout : "2";
    const seconds = Number(text);
    if (!(seconds > 0 && seconds <= 60))
      throw new UsageError(`bad --timeout '${text.slice(0, 16)}': expected seconds in (0, 60]`);
    const { discover } = await import("../../binding/mdns.js");
    const devices = await discover(seconds * 1000);
    if (context.json) printJson(context, { devices });
    else if (devices.length === 0) print(context, "no reid devices answered");
    else for (const d of devices) print(context, `${d.handle} ${d.address} ${d.name}`);
  },
};
