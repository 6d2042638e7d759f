import { UsageError } from "../../errors.js";
import { NAMED_BACKENDS } from "../../storage/backends.js";
import { type CliContext, type Command, print } from "../context.js";
import { readKeyFile } from "../key-file.js";
import { elementOptions } from "../with-element.js";

const BACKEND_OPTIONS = NAMED_BACKENDS.map((entry) => `[--${entry.option} SPEC] `).join("");

export const command: Command = {
  usage: `reid [--store DIR] ${BACKEND_OPTIONS}[--source SPEC] [--kek-file FILE] serve [--web HOST:PORT] [--device [--listen HOST:PORT] [--sensor SPEC] [--sample-every SECONDS] [--no-mdns]]`,
  summary:
    "Runs the secure element daemon: it alone holds the store and serves its API on a 0600 Unix socket in the store directory; --web also serves the owner's page on a loopback HOST:PORT. --device also serves the device role of binding on --listen (default 127.0.0.1:7470), advertised over mDNS as _reid._tcp on that interface only, with readings from --sensor (simulated, file:PATH or command:PATH), sampled every --sample-every seconds into a history of the last 64 that 'reid telemetry --count' reads.",
  options: {
    web: { type: "string" },
    device: { type: "boolean" },
    listen: { type: "string" },
    sensor: { type: "string" },
    "sample-every": { type: "string" },
    "no-mdns": { type: "boolean" },
  },
  positionals: [0, 0],
  async run(context, values) {
    const { parseWebAddress } = await import("../../web/address.js");
    const web = typeof values.web === "string" ? parseWebAddress(values.web) : undefined;
    const device = values.device ? await deviceOptions(context, values) : undefined;
    const deviceOnly = [values.listen, values.sensor, values["sample-every"], values["no-mdns"]];
    if (!values.device && deviceOnly.some((value) => value !== undefined && value !== false)) {
      throw new UsageError(
        "--listen, --sensor, --sample-every and --no-mdns belong to 'reid serve --device'",
      );
    }
    // Listened for before the socket answers: a SIGTERM that arrives as soon as clients can connect
    // must stop the daemon cleanly, not kill it by the default action.
    const stopRequested = new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    const { startDaemon } = await import("../../daemon/server.js");
    const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
    let daemon: Awaited<ReturnType<typeof startDaemon>>;
    try {
      daemon = await startDaemon({
        ...elementOptions(context),
        kek,
        ...(web ? { web } : {}),
        ...(device ? { device } : {}),
        ...(context.credentials.pin !== undefined ? { ownerPin: context.credentials.pin } : {}),
      });
    } finally {
      kek?.fill(0);
    }
    print(context, `reid: serving store ${context.storeDirectory} on ${daemon.socket}`);
    if (daemon.webUrl) print(context, `reid: the owner's page is at ${daemon.webUrl}`);
    if (daemon.device)
      print(context, `reid: device ${daemon.device.handle} serves binding on ${daemon.device.address}`);
    await stopRequested;
    await daemon.close();
  },
};

async function deviceOptions(
  context: CliContext,
  values: Readonly<Record<string, string | boolean | undefined>>,
) {
  const { DEFAULT_LISTEN, parseDeviceAddress } = await import("../../binding/address.js");
  const { parseSensor } = await import("../../binding/sensor.js");
  const listen = typeof values.listen === "string" ? values.listen : DEFAULT_LISTEN;
  const { host, port } = parseDeviceAddress(listen, "--listen", true);
  return {
    host,
    port,
    sensor: parseSensor(typeof values.sensor === "string" ? values.sensor : "simulated"),
    advertise: !values["no-mdns"],
    ...(typeof values["sample-every"] === "string"
      ? { sampleEveryMs: sampleEvery(values["sample-every"]) }
      : {}),
    report: (message: string) => context.stderr.write(`reid: ${message}\n`),
  };
}

/** --sample-every: seconds, from 0.05 (tests, fast sensors) to a day. */
function sampleEvery(text: string): number {
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds >= 0.05 && seconds <= 86_400)) {
    throw new UsageError(`bad --sample-every '${text.slice(0, 16)}': expected seconds in 0.05..86400`);
  }
  return Math.round(seconds * 1000);
}
