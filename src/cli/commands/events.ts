import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { socketPath } from "../../daemon/socket.js";
import type { BindingEvent, Notification } from "../../element/request.js";
import { describeOsError, ExitCode, ReidError, UnreachableError, UsageError } from "../../errors.js";
import { readEvents } from "../../http/event-stream.js";
import { type CliContext, type Command, print, printJson, requireStore } from "../context.js";
import { report } from "../request.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] events --follow",
  summary:
    "Follows the daemon's notifications: one line (or one JSON object) per finished request, until interrupted (exit 0) or the daemon stops (exit 7, saying so).",
  options: { follow: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    if (!values.follow)
      throw new UsageError("'reid events' needs --follow (past requests are in 'reid log')");
    requireStore(context);
    const socket = socketPath(context.storeDirectory);
    const where = `the daemon serving store ${context.storeDirectory}`;
    const noDaemon = (why: string) =>
      new UnreachableError(
        "daemon-unreachable",
        `no daemon serves store ${context.storeDirectory} (${why}): start 'reid serve' to follow its events`,
      );
    if (!existsSync(socket)) throw noDaemon("no socket");
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest({ socketPath: socket, path: "/events", method: "GET" }, (response) => {
        if (response.statusCode !== 200) {
          reject(
            new ReidError(
              "daemon-protocol",
              ExitCode.internal,
              `${where} answered HTTP ${response.statusCode}`,
            ),
          );
          return;
        }
        readEvents(response, ({ event, data }) => {
          if (event === "request" && data) report(context, JSON.parse(data) as Notification, "one-line");
          if (event === "binding" && data) reportBinding(context, JSON.parse(data) as BindingEvent);
        });
        // Either way the stream is over because the daemon is: a script following it learns which.
        response.on("end", () =>
          reject(new UnreachableError("daemon-stopped", `${where} stopped: no more events`)),
        );
        response.on("error", () =>
          reject(new UnreachableError("daemon-unreachable", `${where} went away: the event stream was cut`)),
        );
      });
      // A stale socket (a killed daemon) refuses the connection.
      request.on("error", (error: NodeJS.ErrnoException) => reject(noDaemon(describeOsError(error))));
      request.end();
      // Asked to stop: the one ending that is no failure, so it is quiet.
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
