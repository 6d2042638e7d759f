// The token buckets of docs/spec.md §2.8 with the clock in the test's hands: a burst, then a
// refusal naming the wait, tokens coming back at their rate, every source of a request needed,
// and a refund that leaves a bucket as it was.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateLimited, RateLimiter } from "../../src/http/rate-limit.js";

function limiter(burst: number, perSecond: number) {
  let now = 1_000_000;
  return {
    limiter: new RateLimiter({ burst, perSecond }, () => now),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function refusal(take: () => void): RateLimited {
  try {
    take();
  } catch (error) {
    assert.ok(error instanceof RateLimited, String(error));
    return error;
  }
  assert.fail("not refused");
}

describe("the rate limiter", () => {
  test("a burst, then 429 rate-limited (exit 4) with the whole seconds until a token is back", () => {
    const { limiter: l, advance } = limiter(3, 0.5);
    for (let i = 0; i < 3; i++) l.take(["a"], "here");
    const refused = refusal(() => l.take(["a"], "here"));
    assert.deepEqual(
      [refused.status, refused.code, refused.exitCode, refused.retryAfter],
      [429, "rate-limited", 4, 2],
    );
    assert.equal(refused.message, "too many owner operations from here: try again in 2 s");
    advance(1999);
    refusal(() => l.take(["a"], "here"));
    advance(1);
    l.take(["a"], "here");
    // Another source has its own bucket.
    l.take(["b"], "here");
  });

  test("a request needs a token from each of its sources, and takes none when one is empty", () => {
    const { limiter: l } = limiter(2, 1);
    l.take(["session:1", "address:x"], "here");
    l.take(["session:2", "address:x"], "here");
    refusal(() => l.take(["session:3", "address:x"], "here"));
    // session:3 was not charged for the refusal.
    l.take(["session:3", "address:y"], "here");
    l.take(["session:3", "address:y"], "here");
    refusal(() => l.take(["session:3", "address:z"], "here"));
  });

  test("a refund gives the token back, never beyond the burst", () => {
    const { limiter: l } = limiter(2, 1);
    for (let i = 0; i < 10; i++) {
      l.take(["a"], "here");
      l.refund(["a"]);
    }
    l.refund(["a"]);
    l.take(["a"], "here");
    l.take(["a"], "here");
    refusal(() => l.take(["a"], "here"));
  });
});
