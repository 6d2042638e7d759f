import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { socketPath } from "../../daemon/socket.js";
import type { BindingEvent, Notification } from "../../element/request.js";
import { ExitCode, ReidError, UsageError } from "../../errors.js";
import { readEvents } from "../../http/event-stream.js";
import { type CliContext, type Command, print, printJson } from "../context.js";
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
        readEvents(response, ({ event, data }) => {
          if (event === "request" && data) report(context, JSON.parse(data) as Notification);
          if (event === "binding" && data) reportBinding(context, JSON.parse(data) as BindingEvent);
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

/** A binding event: one line (or its JSON), naming the peer and, for a command, what it asked. */
function reportBinding(context: CliContext, event: BindingEvent): void {
  if (context.json) {
    printJson(context, event);
    return;
  }
  const what = event.command ? ` ${[event.command.name, ...event.command.args].join(" ")}` : "";
  print(context, `${event.time} ${event.role} ${event.event} ${event.peer}${what}`);
}
