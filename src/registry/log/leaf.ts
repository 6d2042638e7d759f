import canonicalizeModule from "canonicalize";
import type { EventType, RegistryEvent } from "../store/store.js";
import { logUntrusted } from "./log-errors.js";

// The package is CommonJS whose types describe an ES default export: at run time the default
// import is the function itself.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** An event as a leaf holds it: its index in the log is where the leaf is, not in its bytes. */
export type LeafEvent = Omit<RegistryEvent, "leaf">;

/**
 * A leaf of the identity log is one registry event, as the UTF-8 bytes of its RFC 8785 canonical
 * JSON: `{"at","data","handle","sequence","type"}` with the event's own values. Canonical, so an
 * auditor who holds the event makes the same bytes, and the same bytes always hash alike
 * (docs/spec.md §10.12).
 */
export function leafOf(event: LeafEvent): Uint8Array {
  const { sequence, type, handle, data, at } = event;
  const text = canonicalize({ at, data, handle, sequence, type });
  if (text === undefined) throw new Error("an event without a JSON form");
  return Buffer.from(text, "utf8");
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>([
  "listed",
  "enrolled",
  "succeeded",
  "renewed",
  "revoked",
  "fork-refused",
]);
const HANDLE = /^[0-9a-f]{32}$/;

/**
 * The event a leaf holds, for a reader who got the bytes from the registry (an auditor, an
 * element): refused unless it is an event's canonical form, byte for byte.
 */
export function eventOfLeaf(leaf: Uint8Array): LeafEvent {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(leaf).toString("utf8"));
  } catch {
    throw logUntrusted("a log leaf is not JSON");
  }
  const event = value as Partial<LeafEvent> | null;
  const shaped =
    event !== null &&
    typeof event === "object" &&
    Number.isSafeInteger(event.sequence) &&
    (event.sequence as number) > 0 &&
    typeof event.type === "string" &&
    EVENT_TYPES.has(event.type) &&
    typeof event.handle === "string" &&
    HANDLE.test(event.handle) &&
    typeof event.at === "string" &&
    typeof event.data === "object" &&
    event.data !== null &&
    !Array.isArray(event.data) &&
    Object.keys(event).length === 5;
  if (!shaped) throw logUntrusted("a log leaf is not a registry event");
  const parsed = event as LeafEvent;
  if (!Buffer.from(leafOf(parsed)).equals(Buffer.from(leaf))) {
    throw logUntrusted(`log leaf of event ${parsed.sequence} is not in canonical form`);
  }
  return parsed;
}
