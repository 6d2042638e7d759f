// The count of refusals a device keeps instead of one audit record each (docs/spec.md §9.5): one
// count per peer and reason per minute, at most MAX_PEERS peers apart in a minute (the others
// together under "*"), taken only once the minute has ended (or all at once, as the daemon stops).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PEERS, NETWORK, OTHERS, REFUSED, RefusalTally } from "../../src/audit/refusal-tally.js";

const PLACE = { generation: 3, handle: "00112233445566778899aabbccddeeff" };
const at = (minute: number, second: number) => new Date(Date.UTC(2026, 0, 1, 0, minute, second));

describe("refusal tally", () => {
  it("counts per peer and reason per minute, with the first and last time", () => {
    const tally = new RefusalTally();
    for (let s = 0; s < 50; s++) tally.count("192.0.2.1", "unbound", at(0, s));
    tally.count("192.0.2.1", "bad-signature", at(0, 10));
    tally.count("192.0.2.2", "unbound", at(0, 59));
    tally.count("192.0.2.1", "unbound", at(1, 0));
    const entries = tally.take(PLACE, at(1, 30));
    assert.deepEqual(
      entries.map((e) => [e.detail?.peer, e.outcome, e.detail?.count, e.detail?.from, e.detail?.to]),
      [
        ["192.0.2.1", "unbound", 50, at(0, 0).toISOString(), at(0, 49).toISOString()],
        ["192.0.2.1", "bad-signature", 1, at(0, 10).toISOString(), at(0, 10).toISOString()],
        ["192.0.2.2", "unbound", 1, at(0, 59).toISOString(), at(0, 59).toISOString()],
      ],
    );
    for (const entry of entries) {
      assert.equal(entry.request, REFUSED);
      assert.equal(entry.principal, NETWORK);
      assert.equal(entry.generation, PLACE.generation);
      assert.equal(entry.handle, PLACE.handle);
      assert.equal(entry.detail?.reason, entry.outcome);
      assert.equal(entry.time, entry.detail?.to);
    }
    // Minute 1 has not ended at 00:01:30: kept; taken once it has, then nothing is left.
    assert.deepEqual(tally.take(PLACE, at(1, 59)), []);
    assert.equal(tally.empty, false);
    assert.deepEqual(
      tally.take(PLACE, at(2, 0)).map((e) => e.detail?.count),
      [1],
    );
    assert.equal(tally.empty, true);
  });

  it("a stranger with many addresses adds at most MAX_PEERS + 1 counts per reason a minute", () => {
    const tally = new RefusalTally();
    for (let i = 0; i < 10_000; i++) tally.count(`2001:db8::${i.toString(16)}`, "unbound", at(0, i % 60));
    // A peer counted apart before the cap keeps its own count.
    tally.count("2001:db8::0", "unbound", at(0, 59));
    const entries = tally.take(PLACE);
    assert.equal(entries.length, MAX_PEERS + 1);
    const others = entries.find((e) => e.detail?.peer === OTHERS);
    assert.equal(others?.detail?.count, 10_000 - MAX_PEERS);
    assert.equal(entries.find((e) => e.detail?.peer === "2001:db8::0")?.detail?.count, 2);
    assert.equal(
      entries.reduce((sum, e) => sum + Number(e.detail?.count), 0),
      10_001,
    );
  });

  it("take() with no time takes every minute, oldest first", () => {
    const tally = new RefusalTally();
    tally.count("192.0.2.1", "stale", at(5, 0));
    tally.count("192.0.2.1", "stale", at(3, 0));
    assert.deepEqual(
      tally.take(PLACE).map((e) => e.detail?.from),
      [at(3, 0).toISOString(), at(5, 0).toISOString()],
    );
    assert.equal(tally.empty, true);
  });
});
