// One writer per store: while another process holds it, the CLI waits, or gives up with exit 6.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openElement } from "../../src/element/element.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { assertUnchanged, fingerprint } from "./store.js";

const SHORT = { REID_LOCK_TIMEOUT: "0.3" };

/** Opens the element for writing in this process: it holds the store's lock until closed. */
function hold(store: string) {
  return openElement({ storeDirectory: store, source: { kind: "os" }, write: true, lockTimeoutMs: 5_000 });
}

describe("the store lock", () => {
  it("with the store held elsewhere, every command fails with exit 6 'busy' after REID_LOCK_TIMEOUT", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const holder = await hold(store);
    try {
      for (const args of [["status"], ["init"], ["reset"], ["erase"], ["config", "single-type", "on"]]) {
        const result = await assertUnchanged(store, () => reid(["--store", store, ...args], { env: SHORT }));
        assertOneLineError(result, 6, /busy/);
      }
      const json = await reid(["--store", store, "--json", "reset"], { env: SHORT });
      assertOneLineError(json, 6, /busy/);
      assert.equal((JSON.parse(json.stderr) as { error: { code: string } }).error.code, "store-busy");
    } finally {
      await holder.close();
    }
    const after = await reidJson(["--store", store, "reset"], { env: SHORT });
    assert.deepEqual([after.state, after.generation], ["set", 2]);
  });

  it("a missing store is locked too, and stays missing", async (t) => {
    const { store } = tempDir(t);
    const holder = await hold(store);
    try {
      assertOneLineError(await reid(["--store", store, "init"], { env: SHORT }), 6, /busy/);
      assert.equal(fingerprint(store), "absent");
    } finally {
      await holder.close();
    }
    assert.equal((await reidJson(["--store", store, "init"])).generation, 1);
  });

  it("the CLI waits for the holder and then runs after it, never interleaved", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const holder = await hold(store);
    let finished = false;
    let waiting: ReturnType<typeof reid>;
    try {
      const before = fingerprint(store);
      // Default timeout (10 s): the CLI must wait, not fail.
      waiting = reid(["--store", store, "--json", "reset"], { env: {} });
      void waiting.then(() => {
        finished = true;
      });
      // Ample time for a CLI that ignored the lock to finish; a waiting one is unaffected.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(finished, false, "the CLI did not wait for the holder");
      assert.equal(fingerprint(store), before, "the CLI wrote while another process held the store");
      // The holder's own request goes first.
      const mine = await holder.control.submit({ type: "reset" });
      assert.equal(mine.generation, 2);
    } finally {
      await holder.close();
    }
    const result = await waiting;
    assert.equal(result.code, 0, result.stderr);
    const theirs = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual([theirs.request, theirs.generation], ["reset", 3]);
  });
});
