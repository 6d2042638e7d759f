import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import type { ControlUnit } from "../element/control-unit.js";
import { describeOsError, UsageError } from "../errors.js";
import { peerOf } from "../http/address.js";
import { answerErrors } from "../http/answer.js";
import { limitedServer } from "../http/limits.js";
import { serveOperations } from "../http/serve.js";
import { DeviceRole } from "./device.js";
import { DEVICE_MESSAGES } from "./messages.js";
import type { PairingWindow } from "./pairing.js";
import type { Sensor } from "./sensor.js";

/** A client gets this long to send its headers, and its whole request: a slow one is cut, not waited on. */
export const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface DeviceEndpoint {
  /** HOST:PORT as bound (the port chosen when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The binding endpoint's routes: the messages of DEVICE_MESSAGES, each checked before it reaches the element. */
export function deviceRoutes(role: DeviceRole): Hono {
  const app = new Hono();
  answerErrors(app);
  // A refusal is counted under the peer's address (docs/spec.md §9.5).
  serveOperations(app, DEVICE_MESSAGES, (c) => role.as(peerOf(c)));
  return app;
}

/**
 * Serves the device role on HOST:PORT over TCP (loopback unless configured otherwise). Slow
 * clients are cut by the server's timeouts, so none can hold the endpoint.
 * Specified in docs/spec.md §7.1.
 */
export async function startDeviceEndpoint(
  control: ControlUnit,
  directory: string,
  options: {
    readonly host: string;
    readonly port: number;
    readonly sensor: Sensor;
    readonly sampleEveryMs?: number;
    readonly report?: (message: string) => void;
    /** The window its owner opens (`reid pair`); binds are refused outside it. */
    readonly pairing: PairingWindow;
  },
): Promise<DeviceEndpoint> {
  const role = new DeviceRole(control, directory, options.sensor, options.pairing);
  const routes = deviceRoutes(role);
  const server = limitedServer(routes.fetch, {
    headersMs: HEADERS_TIMEOUT_MS,
    requestMs: REQUEST_TIMEOUT_MS,
  });
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new UsageError(
          `cannot serve the device role on ${options.host}:${options.port}: ${describeOsError(error)}`,
          "listen-failed",
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const report = options.report ?? (() => {});
  const stopSampling = options.sampleEveryMs ? sampleEvery(role, options.sampleEveryMs, report) : () => {};
  const stopSummaries = summariseEveryMinute(role, control, report);
  return {
    address: `${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    port,
    close: async () => {
      stopSampling();
      stopSummaries();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // After the last connection: every refusal counted is in the log before the daemon exits.
      await flushRefusals(role, report);
    },
  };
}

/**
 * Writes the refusals counted in each minute once it has ended (docs/spec.md §9.5): a timer at
 * each minute's end (the machine's clock; the counts are by the element's), a second after it.
 */
function summariseEveryMinute(role: DeviceRole, control: ControlUnit, report: (message: string) => void) {
  let timer: NodeJS.Timeout;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        void flushRefusals(role, report, control.time()).finally(arm);
      },
      MINUTE_MS - (Date.now() % MINUTE_MS) + 1000,
    );
    timer.unref();
  };
  arm();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A summary that cannot be written (a full disk) is reported on the daemon's stderr, and dropped. */
async function flushRefusals(role: DeviceRole, report: (message: string) => void, now?: Date): Promise<void> {
  try {
    await role.flushRefusals(now);
  } catch (error) {
    report(
      `the summary of refused requests could not be written to the audit log: ${(error as Error).message}`,
    );
  }
}

const MINUTE_MS = 60_000;

/**
 * Samples the sensor into the device's history every `ms`. A sample still running when the next is
 * due is not doubled; a failing sensor is reported once, and again only when its failure changes.
 */
function sampleEvery(role: DeviceRole, ms: number, report: (message: string) => void): () => void {
  let busy = false;
  let lastFailure = "";
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    role
      .sample()
      .then(
        () => {
          lastFailure = "";
        },
        (error: Error) => {
          if (error.message !== lastFailure) report(`sampling the sensor failed: ${error.message}`);
          lastFailure = error.message;
        },
      )
      .finally(() => {
        busy = false;
      });
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
