// The element's event stream is an operation of the daemon's table like every other: RemoteElement
// follows it over the socket with the same Feed as ElementService gives in process, and the feed
// says when the daemon ends it.
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import type { Notification } from "../../src/element/request.js";
import { reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

/** Resolves when `test` holds, checking every 20 ms; rejects after `ms`. */
async function until(test: () => boolean, ms: number, what: string): Promise<void> {
  for (const start = Date.now(); !test(); ) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("RemoteElement.events", () => {
  it("delivers every finished request in order, and its feed ends when the daemon stops", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store);
    const remote = new RemoteElement(daemon.socket);
    t.after(() => remote.close());
    const feed = remote.events();
    const seen: Notification[] = [];
    const stop = feed.subscribe((event) => {
      if (feed.name(event) === "request") seen.push(event as Notification);
    });
    t.after(stop);

    // The stream has no history: reset until one arrives (the stream is then open).
    for (let tries = 0; seen.length === 0; tries++) {
      assert.ok(tries < 50, "no notification arrived");
      await remote.submit("reset");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = (await remote.status()).generation;
    await until(() => seen.at(-1)?.generation === before, 5_000, "every reset sent so far");
    await reidOk(["--store", store, "reset"]);
    await until(() => seen.at(-1)?.generation === before + 1, 5_000, "the CLI's reset");
    const last = seen.at(-1) as Notification;
    assert.deepEqual([last.request, last.state], ["reset", "set"]);
    for (let i = 1; i < seen.length; i++) {
      assert.ok((seen[i]?.generation ?? 0) > (seen[i - 1]?.generation ?? 0), "in order");
    }

    assert.equal(feed.until?.aborted, false);
    const ended = once(feed.until as AbortSignal, "abort");
    await daemon.stop();
    await ended;
  });

  it("a feed from a daemon that is not there ends at once", async (t) => {
    const { dir } = tempDir(t);
    const remote = new RemoteElement(join(dir, "no-daemon.sock"));
    const feed = remote.events();
    const ended = once(feed.until as AbortSignal, "abort");
    const stop = feed.subscribe(() => assert.fail("no event can come from nowhere"));
    await ended;
    stop();
    await remote.close();
  });
});
