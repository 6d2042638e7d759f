// A flood of scheduled requests (docs/spec.md §2.6; issue 13, part 4): schedule.json is replaced
// whole on every change and read by every run of the daemon, so it must not grow without bound.
// A client of a real daemon's socket schedules as fast as it can; past the cap each request is a
// clear refusal (exit 3), recorded, and the file stays as it was. A cancel makes room again.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import { MAX_SCHEDULED } from "../../src/element/scheduling.js";
import { ReidError } from "../../src/errors.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

const LATER = () => new Date(Date.now() + 30 * 24 * 3_600_000).toISOString();

describe("schedule.json is capped", () => {
  it(`holds at most ${MAX_SCHEDULED} requests: the next is refused (exit 3) and recorded; a cancel makes room`, async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store);
    const client = new RemoteElement(daemon.socket);
    t.after(() => client.close());
    const ids: string[] = [];
    for (let i = 0; i < MAX_SCHEDULED; i++) ids.push((await client.schedule("reset", undefined, LATER())).id);
    const file = join(store, "schedule.json");
    const full = readFileSync(file, "utf8");
    assert.equal((JSON.parse(full) as unknown[]).length, MAX_SCHEDULED);

    const refusals: ReidError[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        await client.schedule("erase", "digits:40", LATER());
      } catch (error) {
        assert.ok(error instanceof ReidError, String(error));
        refusals.push(error);
      }
    }
    assert.equal(refusals.length, 20, "a request past the cap was scheduled");
    for (const error of refusals) {
      assert.equal(error.code, "schedule-full");
      assert.equal(error.exitCode, 3);
      assert.match(error.message, new RegExp(`${MAX_SCHEDULED}.*reid schedule cancel`));
    }
    assert.equal(readFileSync(file, "utf8"), full, "a refusal changed schedule.json");
    const log = await reidJson<{ records: { request: string; outcome: string }[] }>([
      "--store",
      store,
      "log",
    ]);
    assert.equal(
      log.records.filter((r) => r.request === "schedule-erase" && r.outcome === "schedule-full").length,
      20,
    );

    // The CLI says it in one line, with the same exit.
    assertOneLineError(await reid(["--store", store, "reset", "--at", LATER()]), 3, /schedule/);
    await client.cancelScheduled(ids[0] as string);
    await reidOk(["--store", store, "reset", "--at", LATER()]);
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as unknown[]).length, MAX_SCHEDULED);
  });
});
