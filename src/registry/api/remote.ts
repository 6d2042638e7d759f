import { clientOf, type Transport } from "../../http/call.js";
import type { Operator } from "../operator.js";
import { OPERATOR_OPERATIONS, type OperatorApi } from "./operations.js";

const OperatorClient = clientOf<OperatorApi>()(OPERATOR_OPERATIONS);

/**
 * The Operator asked of a running registry (docs/spec.md §10.10) through `transport`: the same
 * views the store's Operator answers, so the commands print the same text and JSON either way.
 * `follow` reads the registry's event stream, which takes the caller's own HTTPS client.
 */
export function remoteOperator(
  transport: Transport,
  close: () => Promise<void>,
  follow: Operator["follow"],
): Operator {
  const client = new OperatorClient({ transport });
  return {
    devices: async (query) => [...(await client.devicePage(query)).devices],
    report: (handle) => client.report(handle),
    revoke: (handle, reason) => client.revoke(handle, reason),
    events: async (after, limit) => [...(await client.eventPage(after, limit)).events],
    follow,
    createToken: (ttlSeconds, label) => client.createToken(ttlSeconds, label ?? undefined),
    close,
  };
}
