import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import type { ControlUnit } from "../element/control-unit.js";
import { describeOsError, UsageError } from "../errors.js";
import { answerErrors } from "../http/answer.js";
import { bodyLimit, objectBody } from "../http/body.js";
import { DeviceRole } from "./device.js";
import type { Sensor } from "./sensor.js";

/** The largest binding message is under 1 KiB; anything near this is not one. */
const BODY_LIMIT = 16 * 1024;
/** A client gets this long to send its headers, and its whole request: a slow one is cut, not waited on. */
export const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;

const COMMAND_FIELDS = ["v", "device", "user", "counter", "time", "name", "args", "signature"];

export interface DeviceEndpoint {
  /** HOST:PORT as bound (the port chosen when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The binding endpoint's routes: four JSON messages, each checked before it reaches the element. */
export function deviceRoutes(role: DeviceRole): Hono {
  const app = new Hono();
  answerErrors(app);
  const json = bodyLimit(BODY_LIMIT);
  app.post("/v1/bind/hello", json, async (c) =>
    c.json(await role.hello(await objectBody(c, ["v", "nonce"]))),
  );
  app.post("/v1/bind/request", json, async (c) =>
    c.json(
      await role.bind(
        await objectBody(c, ["v", "challenge", "handle", "ed25519", "x25519", "signature", "pop"]),
      ),
    ),
  );
  app.post("/v1/command", json, async (c) => c.json(await role.command(await objectBody(c, COMMAND_FIELDS))));
  app.post("/v1/telemetry", json, async (c) =>
    c.json(await role.telemetry(await objectBody(c, COMMAND_FIELDS))),
  );
  return app;
}

/**
 * Serves the device role on HOST:PORT over TCP (loopback unless configured otherwise). Slow
 * clients are cut by the server's timeouts, so none can hold the endpoint.
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
  },
): Promise<DeviceEndpoint> {
  const role = new DeviceRole(control, directory, options.sensor);
  const routes = deviceRoutes(role);
  const server = createAdaptorServer({
    fetch: routes.fetch,
    serverOptions: {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // How often those timeouts are checked (Node's default is 30 s).
      connectionsCheckingInterval: 1000,
      maxHeaderSize: 8192,
    },
  }) as Server;
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
  const stopSampling = options.sampleEveryMs
    ? sampleEvery(role, options.sampleEveryMs, options.report ?? (() => {}))
    : () => {};
  return {
    address: `${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        stopSampling();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

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
