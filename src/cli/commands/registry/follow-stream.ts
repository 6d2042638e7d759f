import { RegistryProtocolError } from "../../../enrollment/est-client.js";
import { ReidError } from "../../../errors.js";
import { type ServerSentEvent, streamedEvents } from "../../../http/event-stream.js";
import { OPERATOR_OPERATIONS } from "../../../registry/api/operations.js";
import { type FollowOptions, pause } from "../../../registry/follow.js";
import type { EventView } from "../../../registry/views.js";
import type { StreamOpener } from "./remote.js";

/** After a lost connection the registry is asked again this soon, then twice as late each time. */
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 5000;
/** One event is a few KiB (a succession's evidence); anything near this is not the registry's. */
const MAX_EVENT = 2 ** 20;

/**
 * The registry's event stream (GET /v1/events/stream, docs/spec.md §10.6, §10.10) followed across
 * lost connections as a browser's EventSource follows it: the same URL again, with Last-Event-ID
 * the id of the last event handed on, so the registry resumes after it and nothing is missed or
 * handed on twice. No connection, a cut or silent one, a 5xx or the stream's end: asked again
 * after 0.25 s, 0.5 s … at most 5 s apart, until it answers. A refusal or an answer that is not
 * the API's ends the follow with its error.
 */
export async function* followStream(
  open: StreamOpener,
  where: string,
  after: number,
  options: FollowOptions,
): AsyncGenerator<EventView> {
  const { until } = options;
  const path = `${OPERATOR_OPERATIONS.operations.eventStream.path}?since=${after}`;
  const tooLarge = () => new RegistryProtocolError(`the registry at ${where} sent an event over 1 MiB`);
  let last: number | undefined;
  let delay = FIRST_RETRY_MS;
  let told = false;
  while (!until.aborted) {
    let why = `the registry at ${where} ended the event stream`;
    try {
      const resume = last === undefined ? {} : { "last-event-id": String(last) };
      const body = await open(path, resume, until);
      for await (const event of streamedEvents(body, MAX_EVENT, tooLarge)) {
        if (event.event === "ready") {
          // It answers again: the outage, if any, is over.
          [delay, told] = [FIRST_RETRY_MS, false];
        } else if (event.data !== undefined) {
          const view = eventOf(event, last ?? after, where);
          yield view;
          last = view.sequence;
        }
      }
    } catch (error) {
      if (until.aborted) return;
      if (error instanceof ReidError && error.code !== "registry-unreachable") throw error;
      why =
        error instanceof ReidError
          ? error.message
          : `the connection to the registry at ${where} broke (${(error as Error).message})`;
    }
    if (!told) options.lost?.(why);
    told = true;
    if (!(await pause(delay, until))) return;
    delay = Math.min(delay * 2, LAST_RETRY_MS);
  }
}

/** An event of the stream as its view: its id is its sequence, which must be past the last one. */
function eventOf(event: ServerSentEvent, last: number, where: string): EventView {
  let view: Partial<EventView> | null = null;
  try {
    view = JSON.parse(event.data ?? "") as Partial<EventView>;
  } catch {
    // Below: not an event.
  }
  const sequence = view?.sequence;
  if (typeof sequence !== "number" || event.id !== String(sequence) || sequence <= last) {
    throw new RegistryProtocolError(
      `the registry at ${where} sent an event without its sequence as its id, or not after event ${last}`,
    );
  }
  return view as EventView;
}
