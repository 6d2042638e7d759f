// What `reid status` loads on its way (its start-up is held to 1.3x `node -e 0` in bench/startup.ts):
// Node's module loader reports every CommonJS file and built-in module it loads under
// NODE_DEBUG=module. On a store no daemon serves, status still takes the store's lock (flock(2),
// docs/spec.md §5.5), but loads fs-ext's addon directly rather than through the CommonJS loader,
// and never node:net, which only asking a daemon's socket needs, nor node:string_decoder.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const STATUS_NEVER_LOADS = [
  // fs-ext's JavaScript wrapper: requiring it sets up the CommonJS loader first.
  /fs-ext[/\\]fs-ext\.js/,
  /load built-in module node:net\b/,
  // Only a prompt for a secret decodes typed text, with the global TextDecoder.
  /load built-in module node:string_decoder\b/,
];

describe("reid status on a store no daemon serves", () => {
  it("loads neither fs-ext through the CommonJS loader nor node:net nor node:string_decoder", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const status = await reidOk(["--store", store, "status"], { env: { NODE_DEBUG: "module" } });
    assert.match(status.stdout, /^state\s+set$/m);
    // The trace is there at all (a loader that stopped tracing would pass anything).
    assert.match(status.stderr, /load built-in module node:fs\b/);
    const loaded = STATUS_NEVER_LOADS.filter((pattern) => pattern.test(status.stderr));
    assert.deepEqual(loaded, [], "reid status loaded a module it does not need");
  });
});
