import { UsageError } from "../../errors.js";
import { defineOperations, inPath, inQuery } from "../../http/operation.js";
import { custom, oneOf, optional, refine, text } from "../../http/schema.js";
import type { EventFeed } from "../../http/sse.js";
import { REVOCATION_REASONS, type RevocationReason } from "../revocation.js";
import { DEVICE_PAGE_LIMIT, DEVICE_STATUSES, type DeviceQuery } from "../store/store.js";
import { tokenTtlSeconds } from "../tokens.js";
import type { DeviceReport, DeviceView, EventView, RevokedView } from "../views.js";

/**
 * The operator's API under /v1/ (docs/spec.md §10.10) as data: what `reid registry serve`
 * answers and what `--url` asks, one table for both, so they cannot drift apart.
 */

/** A page of the fleet and where the next one starts: null once a page comes back short. */
export interface DevicePage {
  readonly devices: readonly DeviceView[];
  readonly after: string | null;
}

/** A page of events and the sequence to ask the next one after. */
export interface EventPage {
  readonly events: readonly EventView[];
  readonly since: number;
}

export interface IssuedTokenView {
  readonly token: string;
  readonly label: string | null;
  readonly expiresAt: string;
}

/** What the operator's routes carry out, one method per operation. */
export interface OperatorApi {
  devicePage(query: DeviceQuery): Promise<DevicePage>;
  report(handle: string): Promise<DeviceReport>;
  revoke(handle: string, reason: RevocationReason): Promise<RevokedView>;
  createToken(ttlSeconds: number | undefined, label: string | undefined): Promise<IssuedTokenView>;
  eventPage(since: number, limit: number | undefined): Promise<EventPage>;
  eventStream(): EventFeed<EventView>;
}

/** Operator bodies are a few dozen bytes: 4 KiB holds any valid one. */
export const OPERATOR_BODY_LIMIT = 4096;
export const EVENT_PAGE_LIMIT = 1000;

/** Digits in a query, as a number from `min` to `max`; absent is undefined. */
function digits(name: string, min: number, max: number) {
  return custom(
    `digits, ${min} to ${max}`,
    (value) => {
      if (value === undefined) return undefined;
      const number = typeof value === "string" && /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
      if (Number.isSafeInteger(number) && number >= min && number <= max) return number;
      throw new UsageError(`'${name}' must be digits, a whole number from ${min} to ${max}`);
    },
    { optional: true },
  );
}

const HANDLE = /^[0-9a-f]{32}$/;
const handle = (name: string) =>
  text({ max: 32, pattern: HANDLE, message: () => `'${name}' must be a handle: 32 lowercase hex digits` });

/** A DURATION as `registry token create --ttl` takes it; the API gets seconds. */
const ttl = custom(
  "DURATION, ^[1-9][0-9]{0,7}[smhd]$, 1m to 90d (default 24h)",
  (value) => {
    if (value === undefined) return undefined;
    try {
      if (typeof value === "string" && value.length <= 16) return tokenTtlSeconds(value);
    } catch {
      // Below: the field's own message.
    }
    throw new UsageError("'ttl' must be a whole number with s, m, h or d, from 1m to 90d (e.g. 24h)");
  },
  { optional: true },
);
const ttlField = { ...ttl, write: (seconds: unknown) => (seconds === undefined ? undefined : `${seconds}s`) };

const label = optional(
  refine(
    text({ max: 128, message: () => "'label' must be 1 to 128 characters, no control characters" }),
    (value) => value.length > 0 && !/[\p{Cc}\p{Zl}\p{Zp}]/u.test(value),
    () => "'label' must be 1 to 128 characters, no control characters",
  ),
);

export const OPERATOR_OPERATIONS = defineOperations<OperatorApi>()({
  limit: OPERATOR_BODY_LIMIT,
  operations: {
    devicePage: {
      summary: "A page of devices in handle order, all or those of one status, after a handle.",
      method: "GET",
      path: "/v1/devices",
      owner: false,
      input: {
        status: inQuery(optional(oneOf(DEVICE_STATUSES))),
        after: inQuery(optional(handle("after"))),
        limit: inQuery(digits("limit", 1, DEVICE_PAGE_LIMIT)),
      },
    },
    report: {
      summary: "One device, its current certificate and its whole succession chain.",
      method: "GET",
      path: "/v1/devices/:handle",
      owner: false,
      input: { handle: inPath(handle("handle")) },
      args: ["handle"],
    },
    revoke: {
      summary: "Revokes an active device and its current certificate.",
      method: "POST",
      path: "/v1/devices/:handle/revoke",
      owner: false,
      input: { handle: inPath(handle("handle")), reason: oneOf(REVOCATION_REASONS) },
      args: ["handle", "reason"],
    },
    createToken: {
      summary: "A new single-use enrollment token, answered once.",
      method: "POST",
      path: "/v1/tokens",
      owner: false,
      input: { ttl: ttlField, label },
      args: ["ttl", "label"],
    },
    eventPage: {
      summary: "A page of events after a sequence, oldest first.",
      method: "GET",
      path: "/v1/events",
      owner: false,
      input: {
        since: inQuery(digits("since", 0, Number.MAX_SAFE_INTEGER)),
        limit: inQuery(digits("limit", 1, EVENT_PAGE_LIMIT)),
      },
      args: ["since", "limit"],
    },
    eventStream: {
      summary: "The events after a sequence, then each as it commits (Server-Sent Events).",
      method: "GET",
      path: "/v1/events/stream",
      owner: false,
      input: { since: inQuery(digits("since", 0, Number.MAX_SAFE_INTEGER)) },
      output: { events: ["ready", "listed", "enrolled", "succeeded", "renewed", "revoked", "fork-refused"] },
    },
  },
});

/** A resumed stream's `Last-Event-ID`: the sequence of the last event its client got. */
const lastEventId = digits("Last-Event-ID", 0, Number.MAX_SAFE_INTEGER);

/**
 * Where a stream starts: after its `Last-Event-ID` header when it has one (a client resuming,
 * as a browser's EventSource does with the URL it first asked), else after the query's `since`
 * (docs/spec.md §10.10). Either one malformed is a usage error.
 */
export function streamStart(since: string | undefined, lastEvent: string | undefined): number {
  const { input } = OPERATOR_OPERATIONS.operations.eventStream;
  const asked = input.since.read(since, "since") as number | undefined;
  const resumed = lastEventId.read(lastEvent, "Last-Event-ID") as number | undefined;
  return resumed ?? asked ?? 0;
}
