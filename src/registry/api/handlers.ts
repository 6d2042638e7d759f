import type { EventFeed } from "../../http/sse.js";
import { storeOperator } from "../operator.js";
import { DEVICE_PAGE_LIMIT, type RegistryStore } from "../store/store.js";
import { DEFAULT_TOKEN_TTL, tokenTtlSeconds } from "../tokens.js";
import type { EventView } from "../views.js";
import { EventWatch, registryEventFeed } from "./event-feed.js";
import { EVENT_PAGE_LIMIT, type OperatorApi } from "./operations.js";

/**
 * What OPERATOR_OPERATIONS carry out on a served registry, once for every way in: the bearer API
 * under /v1/ (routes.ts) and the operator's page (../page/), which only authenticate differently.
 */
export interface OperatorHandlers extends Omit<OperatorApi, "eventStream"> {
  /** The events after `since`, then each as it commits (docs/spec.md §10.10's stream). */
  stream(since: number): EventFeed<EventView>;
}

/** `reads`: where the operations that only read are answered from (a replica, §10.7); else `store`. */
export function operatorHandlers(
  store: RegistryStore,
  now: () => Date = () => new Date(),
  reads: RegistryStore = store,
): OperatorHandlers {
  const operator = storeOperator(store, now);
  const reader = storeOperator(reads, now);
  // One watch for every stream of this server, whichever way it was asked for: one poll of the
  // database however many wait.
  const watch = new EventWatch(reads);
  return {
    async devicePage({ status, after, limit = DEVICE_PAGE_LIMIT }) {
      const devices = await reader.devices({ status, after, limit });
      return { devices, after: devices.length === limit ? (devices.at(-1)?.handle ?? null) : null };
    },
    report: (handle) => reader.report(handle),
    revoke: (handle, reason) => operator.revoke(handle, reason),
    createToken: (ttlSeconds, label) =>
      operator.createToken(ttlSeconds ?? tokenTtlSeconds(DEFAULT_TOKEN_TTL), label ?? null),
    async eventPage(since = 0, limit = EVENT_PAGE_LIMIT) {
      const events = await reader.events(since, limit);
      return { events, since: events.at(-1)?.sequence ?? since };
    },
    stream: (since) => registryEventFeed(reads, watch, since),
  };
}
