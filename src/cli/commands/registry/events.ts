import { UsageError } from "../../../errors.js";
import { pages } from "../../../registry/pages.js";
import type { EventView } from "../../../registry/views.js";
import type { RegistryAction } from "./action.js";
import { eventLine } from "./fleet-text.js";
import { lineWriter } from "./lines.js";
import { withOperator } from "./operator.js";
import { REMOTE_OPTIONS } from "./remote.js";

const EVENT_PAGE = 1000;
/** How often --follow asks for new events: WAL lets it read while another process writes. */
const POLL_MS = 250;

/**
 * The registry's events after a sequence number, oldest first, a page at a time; with --follow,
 * then each new one as it commits, until SIGINT or SIGTERM (docs/spec.md §10.6).
 */
export const action: RegistryAction = {
  options: ["dir", ...REMOTE_OPTIONS, "since", "follow"],
  operands: [0, 0],
  async run(context, args) {
    let after = sequenceNumber(args.text("since"));
    const stop = args.flag("follow") ? stopSignal() : undefined;
    try {
      await withOperator(args, "events", async (operator) => {
        const line = lineWriter(context);
        do {
          const listing = pages<EventView, number>(
            (from) => operator.events(from ?? after, EVENT_PAGE),
            (event) => event.sequence,
            after,
          );
          for await (const page of listing) {
            for (const event of page) {
              if (!(await line(context.json ? JSON.stringify(event) : eventLine(event)))) return;
              after = event.sequence;
            }
            if (stop?.stopped()) return;
          }
        } while (stop && (await stop.sleep(POLL_MS)));
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

/** SIGINT and SIGTERM end a follow as a success: it stops at the next page or pause. */
function stopSignal() {
  let stopped = false;
  let wake = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    stopped: () => stopped,
    /** Waits `ms`; false once a signal came. */
    async sleep(ms: number): Promise<boolean> {
      if (!stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return !stopped;
    },
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
