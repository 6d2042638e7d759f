// The registry's events as they commit: the session's event stream (EventSource, the cookie goes
// along), the latest few shown, newest first.
import { API, element, short } from "./api.js";

/** How many events the panel shows. */
export const SHOWN = 20;
/** The stream's event names besides ready and end: the registry's event types (src/registry/store/store.ts). */
const TYPES = ["listed", "enrolled", "succeeded", "renewed", "revoked", "fork-refused"];

export function eventsPanel({ onEvent, onEnd }) {
  const list = document.getElementById("events");
  const state = document.getElementById("events-state");
  let source = null;
  let last = 0;

  function start(since) {
    stop();
    last = since;
    source = new EventSource(`${API}/v1/events/stream?since=${since}`);
    source.addEventListener("ready", () => {
      state.textContent = "(connected)";
    });
    for (const type of TYPES) source.addEventListener(type, (message) => received(JSON.parse(message.data)));
    // The server ended the stream (signed out, expired, or it could not read): the page decides.
    source.addEventListener("end", () => {
      stop();
      onEnd(last);
    });
    source.addEventListener("error", () => {
      state.textContent = source?.readyState === EventSource.CLOSED ? "(disconnected)" : "(reconnecting)";
    });
  }

  function received(event) {
    if (event.sequence <= last) return;
    last = event.sequence;
    const data = Object.entries(event.data)
      .filter(([, value]) => typeof value === "string" && value.length <= 40)
      .map(([key, value]) => `${key}=${value}`)
      .join(" ");
    list.prepend(
      element(
        "li",
        { dataset: { sequence: String(event.sequence), type: event.type, handle: event.handle } },
        [`${event.sequence}  ${event.at}  ${event.type}  ${short(event.handle)}${data ? `  ${data}` : ""}`],
      ),
    );
    while (list.children.length > SHOWN) list.lastElementChild.remove();
    onEvent(event);
  }

  function stop() {
    source?.close();
    source = null;
    state.textContent = "";
  }

  return {
    /** Shows the events after `since`, then each as it commits. */
    start,
    /** From the last event shown, after the stream ended while the session lives on. */
    resume: () => start(last),
    stop,
    clear() {
      stop();
      list.replaceChildren();
      last = 0;
    },
  };
}
