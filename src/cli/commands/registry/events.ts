import { UsageError } from "../../../errors.js";
import { pages } from "../../../registry/pages.js";
import type { EventView } from "../../../registry/views.js";
import type { RegistryAction } from "./action.js";
import { READ_DATABASE_OPTIONS } from "./database.js";
import { eventLine } from "./fleet-text.js";
import { lineWriter } from "./lines.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";
import { stopSignal } from "./stop-signal.js";

const EVENT_PAGE = 1000;

/**
 * The registry's events after a sequence number, oldest first, a page at a time; with --follow,
 * then each new one as it commits, until SIGINT or SIGTERM (docs/spec.md §10.6): asked of the
 * database every 250 ms with --dir, read from the registry's event stream with --url.
 */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, ...REMOTE_OPTIONS, "since", "follow"],
  operands: [0, 0],
  async run(context, args) {
    const after = sequenceNumber(args.text("since"));
    const stop = args.flag("follow") ? stopSignal() : undefined;
    try {
      await withOperator(args, "events", async (operator) => {
        const line = lineWriter(context);
        const print = (event: EventView) => line(context.json ? JSON.stringify(event) : eventLine(event));
        if (stop) {
          const lost = (why: string) =>
            context.stderr.write(`reid: ${why}; following again once it answers\n`);
          for await (const event of operator.follow(after, { until: stop.signal, lost })) {
            if (!(await print(event))) return;
          }
          return;
        }
        const listing = pages<EventView, number>(
          (from) => operator.events(from ?? after, EVENT_PAGE),
          (event) => event.sequence,
          after,
        );
        for await (const page of listing) {
          for (const event of page) if (!(await print(event))) return;
        }
      });
    } finally {
      stop?.dispose();
    }
  },
};

function sequenceNumber(text: string | undefined): number {
  if (text === undefined) return 0;
  const sequence = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(sequence)) {
    throw new UsageError(`bad --since '${text}': a sequence number (digits, 0 or more)`);
  }
  return sequence;
}
