import { existsSync } from "node:fs";
import { StateError } from "../../errors.js";
import { type Command, print, printJson, requireStore } from "../context.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] page",
  summary:
    "Prints a one-time sign-in link to the owner's page of the running daemon (reid serve --web): open it within 5 minutes, in a browser of this machine.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const { answers, socketPath } = await import("../../daemon/socket.js");
    requireStore(context);
    const socket = socketPath(context.storeDirectory);
    // The socket is 0600 in a 0700 directory: another account never gets this far.
    if (!existsSync(socket) || !(await answers(socket))) {
      throw new StateError(
        "no-page",
        `no daemon this account can reach serves store ${context.storeDirectory}: start 'reid serve --web 127.0.0.1:8420'`,
      );
    }
    const { RemoteElement } = await import("../../daemon/client.js");
    const { RemotePage } = await import("../../daemon/page-client.js");
    const remote = new RemoteElement(socket);
    try {
      const link = await new RemotePage(remote.connection).pageLink();
      if (context.json) printJson(context, link);
      else print(context, link.url);
    } finally {
      await remote.close();
    }
  },
};
