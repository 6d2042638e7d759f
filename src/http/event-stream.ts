import type { Readable } from "node:stream";

/** One server-sent event: its name, its data line and its id (a resumable stream's). */
export interface ServerSentEvent {
  readonly event: string | undefined;
  readonly data: string | undefined;
  readonly id: string | undefined;
}

/**
 * Splits what arrived of a text/event-stream into whole events (each ends with a blank line) and
 * the rest, which waits for more. Comment lines (": keep-alive") give events with no field.
 */
export function splitEvents(buffer: string): { events: ServerSentEvent[]; rest: string } {
  const events: ServerSentEvent[] = [];
  let rest = buffer;
  for (let end = rest.indexOf("\n\n"); end !== -1; end = rest.indexOf("\n\n")) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    events.push({
      event: /^event: (.*)$/m.exec(block)?.[1],
      data: /^data: (.*)$/m.exec(block)?.[1],
      id: /^id: (.*)$/m.exec(block)?.[1],
    });
  }
  return { events, rest };
}

/** Reads a text/event-stream body as it arrives, handing on each whole event (comments too). */
export function readEvents(body: Readable, onEvent: (event: ServerSentEvent) => void): void {
  let buffer = "";
  body.setEncoding("utf8");
  body.on("data", (chunk: string) => {
    const { events, rest } = splitEvents(buffer + chunk);
    buffer = rest;
    for (const event of events) onEvent(event);
  });
}

/**
 * The whole events of a text/event-stream body (comments too), read only as the caller takes
 * them: a reader slower than the server leaves the rest in the socket, not in memory. It ends
 * when the body does and throws what broke it (a cut connection), or `tooLarge()` once an event
 * grows past `maxEvent` characters without ending.
 */
export async function* streamedEvents(
  body: Readable,
  maxEvent: number,
  tooLarge: () => Error,
): AsyncGenerator<ServerSentEvent> {
  let buffer = "";
  body.setEncoding("utf8");
  for await (const chunk of body) {
    const { events, rest } = splitEvents(buffer + (chunk as string));
    if (rest.length > maxEvent) throw tooLarge();
    buffer = rest;
    yield* events;
  }
}
