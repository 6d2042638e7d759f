// The auditor's replay (docs/spec.md §10.12) of listed devices (§10.6): a `listed` event makes a
// listed handle without a serial, `enrolled` with `listed: true` certifies only a listed one, and a
// listed device is revoked without a serial; histories no registry could write are refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LeafEvent } from "../../../src/registry/log/leaf.js";
import { DeviceTable } from "../../../src/registry/log/replay.js";

const A = "a".repeat(32);
const B = "b".repeat(32);
let sequence = 0;
function event(type: LeafEvent["type"], handle: string, data: Record<string, unknown>): LeafEvent {
  sequence++;
  return { sequence, type, handle, data, at: `2027-01-01T00:00:${String(sequence).padStart(2, "0")}.000Z` };
}

test("listed, then enrolled with listed: true, is active with its serial; a listed one revoked has no serial", () => {
  const table = new DeviceTable();
  table.apply(event("listed", A, { imported: true }), 0);
  table.apply(event("listed", B, { imported: true, label: "bay" }), 1);
  assert.deepEqual(table.counts(), { listed: 2, active: 0, superseded: 0, revoked: 0 });
  assert.equal(table.list()[0]?.certificateSerial, null);
  table.apply(event("enrolled", A, { serial: "1f", listed: true }), 2);
  table.apply(event("revoked", B, { reason: "keyCompromise" }), 3);
  const [a, b] = table.list();
  assert.deepEqual([a?.status, a?.certificateSerial], ["active", "1f"]);
  assert.deepEqual([b?.status, b?.certificateSerial], ["revoked", null]);
});

test("a history no registry could write is refused: a listed handle listed again or enrolled by a token, an unlisted one certified as listed, a listed one renewed", () => {
  const refusals: [LeafEvent[], RegExp][] = [
    [[event("listed", A, {}), event("listed", A, {})], /known already/],
    [[event("listed", A, {}), event("enrolled", A, { serial: "1f" })], /enrolled already/],
    [[event("enrolled", A, { serial: "1f", listed: true })], /not listed/],
    [[event("listed", A, {}), event("renewed", A, { serial: "2f", previous: null })], /is listed/],
    [[event("listed", A, {}), event("revoked", A, { serial: "1f", reason: "x" })], /another certificate/],
  ];
  for (const [events, why] of refusals) {
    const table = new DeviceTable();
    assert.throws(() => {
      for (const [index, one] of events.entries()) table.apply(one, index);
    }, why);
  }
});
