import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { socketPath } from "../../daemon/socket.js";
import { splitEvents } from "../../daemon/sse.js";
import type { Notification } from "../../element/request.js";
import { ExitCode, ReidError, UsageError } from "../../errors.js";
import type { Command } from "../context.js";
import { report } from "../request.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] events --follow",
  summary:
    "Follows the daemon's notifications: one line (or one JSON object) per finished request, until interrupted.",
  options: { follow: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    if (!values.follow)
      throw new UsageError("'reid events' needs --follow (past requests are in 'reid log')");
    const socket = socketPath(context.storeDirectory);
    if (!existsSync(socket)) {
      throw new UsageError(
        `no daemon serves store ${context.storeDirectory}: start 'reid serve' to follow its events`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest({ socketPath: socket, path: "/events", method: "GET" }, (response) => {
        if (response.statusCode !== 200) {
          reject(
            new ReidError(
              "daemon-protocol",
              ExitCode.internal,
              `the daemon answered HTTP ${response.statusCode}`,
            ),
          );
          return;
        }
        let buffer = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          const { events, rest } = splitEvents(buffer + chunk);
          buffer = rest;
          for (const { event, data } of events) {
            if (event === "request" && data) report(context, JSON.parse(data) as Notification);
          }
        });
        response.on("end", resolve);
        // A daemon killed mid-stream cuts the connection: say so plainly.
        response.on("error", () =>
          reject(
            new ReidError(
              "daemon-unreachable",
              ExitCode.internal,
              `the daemon serving store ${context.storeDirectory} went away`,
            ),
          ),
        );
      });
      request.on("error", (error) =>
        reject(
          new UsageError(
            `no daemon serves store ${context.storeDirectory} (${error.message}): start 'reid serve'`,
          ),
        ),
      );
      request.end();
      const stop = () => {
        request.destroy();
        resolve();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  },
};
