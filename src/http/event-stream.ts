/** One server-sent event: its name and its data line. */
export interface ServerSentEvent {
  readonly event: string | undefined;
  readonly data: string | undefined;
}

/**
 * Splits what arrived of a text/event-stream into whole events (each ends with a blank line) and
 * the rest, which waits for more. Comment lines (": keep-alive") give events with neither field.
 */
export function splitEvents(buffer: string): { events: ServerSentEvent[]; rest: string } {
  const events: ServerSentEvent[] = [];
  let rest = buffer;
  for (let end = rest.indexOf("\n\n"); end !== -1; end = rest.indexOf("\n\n")) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    events.push({ event: /^event: (.*)$/m.exec(block)?.[1], data: /^data: (.*)$/m.exec(block)?.[1] });
  }
  return { events, rest };
}
