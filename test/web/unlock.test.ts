// The unlock window from the owner's page (docs/spec.md §2.8, §8.4): opened with a fresh proof,
// never without one; it lets the owner's scripts on the socket through (`reid telemetry` and the
// like), is shown by `reid status`, and is closed from the page without a proof.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PageClient, PIN, type ServedPage, servedPage, status } from "./helpers.js";

describe("the unlock window from the page", () => {
  let served: ServedPage;

  before(async () => {
    served = await servedPage("reid-web-unlock-");
  });

  after(() => served?.close());

  test("opened with the PIN as proof, shown in status, closed by lock; no proof, no window", async () => {
    const owner = new PageClient(served.daemon);
    await owner.signInWithPin(PIN);
    const refused = await owner.post("/api/unlock", { seconds: 60 });
    assert.deepEqual([refused.status, refused.json.error.code], [403, "proof-required"]);
    const bad = await owner.post("/api/unlock", { seconds: 43_201, proof: { pin: PIN } });
    assert.deepEqual([bad.status, bad.json.error.code], [400, "usage"]);
    assert.equal((await status(served.store)).owner.unlockedUntil, null);

    const opened = await owner.post("/api/unlock", { seconds: 600, proof: { pin: PIN } });
    assert.equal(opened.status, 200, opened.text);
    assert.match(opened.json.until, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal((await status(served.store)).owner.unlockedUntil, opened.json.until);

    const stranger = new PageClient(served.daemon);
    await stranger.open();
    const notSignedIn = await stranger.post("/api/lock", {});
    assert.deepEqual([notSignedIn.status, notSignedIn.json.error.code], [401, "not-signed-in"]);

    const closed = await owner.post("/api/lock", {});
    assert.deepEqual([closed.status, closed.json], [200, { was: opened.json.until }]);
    assert.equal((await status(served.store)).owner.unlockedUntil, null);
  });
});
