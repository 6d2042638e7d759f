// reid serve (docs/spec.md §6): one daemon owns the store, serves it on a 0600 Unix socket in the
// store directory, and every CLI command goes through it while it runs. These tests run the built
// CLI and a real `reid serve` child process.
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import { openElement } from "../../src/element/element.js";
import { ReidError } from "../../src/errors.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { answers, serve, startServe } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

/** A command that opened the store itself would give up on the daemon's lock after 0.2 s. */
const SHORT = { REID_LOCK_TIMEOUT: "0.2" };

/** Takes the store's lock in this process (as a direct command would) or fails with its error. */
async function tryHold(store: string): Promise<ReidError | null> {
  try {
    const element = await openElement({
      storeDirectory: store,
      source: { kind: "os" },
      write: true,
      lockTimeoutMs: 200,
    });
    await element.close();
    return null;
  } catch (error) {
    if (error instanceof ReidError) return error;
    throw error;
  }
}

describe("reid serve", () => {
  it("serves on a 0600 socket in a 0700 store directory; a second serve on the store fails busy (exit 6)", async (t) => {
    const { store } = tempDir(t);
    const daemon = await serve(t, store);
    const socket = statSync(daemon.socket);
    assert.ok(socket.isSocket(), `${daemon.socket} is not a socket`);
    assert.equal((socket.mode & 0o777).toString(8), "600");
    assert.equal((statSync(store).mode & 0o777).toString(8), "700");

    const second = await reid(["--store", store, "serve"], { env: SHORT, timeoutMs: 30_000 });
    assertOneLineError(second, 6, /busy/);
    const json = await reid(["--store", store, "--json", "serve"], { env: SHORT, timeoutMs: 30_000 });
    assertOneLineError(json, 6);
    assert.equal((JSON.parse(json.stderr) as { error: { code: string } }).error.code, "store-busy");

    // The first daemon is untouched: same socket file, still answering, still serving the store.
    assert.equal(statSync(daemon.socket).ino, socket.ino, "the second serve replaced the socket");
    assert.ok(await answers(daemon.socket));
    assert.equal(daemon.child.exitCode, null, "the first daemon exited");
    const status = await reidJson(["--store", store, "status"], { env: SHORT });
    assert.deepEqual([status.state, status.generation], ["blank", 0]);
  });

  it("CLI commands go through the socket: they never need the store lock the daemon holds", async (t) => {
    const { store } = tempDir(t);
    await serve(t, store);
    // The daemon holds the store: opening it here gives up, busy.
    const refused = await tryHold(store);
    assert.equal(refused?.code, "store-busy", "the daemon does not hold the store's lock");

    // Every command still works within a 0.2 s lock timeout: none of them opened the store.
    const init = await reidJson(["--store", store, "init"], { env: SHORT });
    assert.deepEqual([init.request, init.generation], ["init", 1]);
    const reset = await reidJson(["--store", store, "reset", "--format", "base32:40"], { env: SHORT });
    assert.deepEqual([reset.request, reset.generation], ["reset", 2]);
    const status = await reidJson(["--store", store, "status"], { env: SHORT });
    assert.deepEqual(
      [status.state, status.generation, status.handle, status.format],
      ["set", 2, reset.handle, "base32:40"],
    );
    const keys = await reidJson(["--store", store, "keys"], { env: SHORT });
    assert.equal(keys.handle, reset.handle);
    await reidOk(["--store", store, "config", "single-type", "on"], { env: SHORT });
    const asReset = await reidJson(["--store", store, "init"], { env: SHORT });
    assert.deepEqual([asReset.request, asReset.requested, asReset.generation], ["reset", "init", 3]);
    await reidOk(["--store", store, "config", "single-type", "off"], { env: SHORT });
    const erase = await reidJson(["--store", store, "erase"], { env: SHORT });
    assert.deepEqual([erase.state, erase.generation], ["blank", 3]);
    // The daemon audited every one of them, in order (the single-type request is left out: what
    // name it is logged under is test/audit's business).
    const log = await reidJson<{ records: { request: string; generation: number; outcome: string }[] }>(
      ["--store", store, "log"],
      { env: SHORT },
    );
    assert.deepEqual(
      log.records.filter((_, i) => i !== 3).map((r) => `${r.request}@${r.generation}:${r.outcome}`),
      ["init@1:ok", "reset@2:ok", "single-type-on@2:ok", "single-type-off@3:ok", "erase@3:ok"],
    );
    assert.deepEqual([log.records.length, log.records[3]?.generation, log.records[3]?.outcome], [6, 3, "ok"]);
    // Failures travel back with their exit codes: state conflict, usage.
    assertOneLineError(await reid(["--store", store, "erase"], { env: SHORT }), 3, /nothing to erase/);
    assertOneLineError(await reid(["--store", store, "reset", "--format", "hex:9"], { env: SHORT }), 2);

    // The lock was the daemon's all along.
    assert.equal((await tryHold(store))?.code, "store-busy");
  });

  it("SIGTERM removes the socket and releases the lock; commands then run directly", async (t) => {
    const { store } = tempDir(t);
    const daemon = await serve(t, store);
    await reidOk(["--store", store, "init"], { env: SHORT });
    const stopped = await daemon.stop();
    assert.deepEqual([stopped.code, stopped.signal], [0, null], stopped.stderr.toString());
    assert.equal(stopped.stderr.toString(), "", "the daemon complained on the way out");
    assert.match(stopped.stdout.toString(), /^reid: serving store .+ on .+\/reid\.sock\n$/);
    assert.equal(existsSync(daemon.socket), false, "the socket outlived the daemon");

    assert.equal(await tryHold(store), null, "the lock outlived the daemon");
    const status = await reidJson(["--store", store, "status"], { env: SHORT });
    assert.deepEqual([status.state, status.generation], ["set", 1]);
    const reset = await reidJson(["--store", store, "reset"], { env: SHORT });
    assert.equal(reset.generation, 2);
  });

  it("a socket left by a SIGKILLed daemon is ignored by the CLI and replaced by the next serve", async (t) => {
    const { store } = tempDir(t);
    const first = await serve(t, store);
    await reidOk(["--store", store, "init"], { env: SHORT });
    const killed = await first.kill();
    assert.equal(killed.signal, "SIGKILL");
    const stale = statSync(first.socket);
    assert.ok(stale.isSocket(), "a SIGKILLed daemon cleans nothing up: its socket file stays");
    assert.equal(await answers(first.socket), false);

    // The kernel released the lock with the process; the CLI sees no daemon and works directly.
    const status = await reidJson(["--store", store, "status"], { env: SHORT });
    assert.deepEqual([status.state, status.generation], ["set", 1]);
    const reset = await reidJson(["--store", store, "reset"], { env: SHORT });
    assert.equal(reset.generation, 2);
    assert.ok(existsSync(first.socket), "the CLI removed the stale socket (only a daemon may)");

    // The next daemon takes the store and replaces the stale socket with its own, 0600.
    const second = await serve(t, store);
    assert.ok(await answers(second.socket));
    assert.equal((statSync(second.socket).mode & 0o777).toString(8), "600");
    assert.equal((await tryHold(store))?.code, "store-busy");
    const after = await reidJson(["--store", store, "reset"], { env: SHORT });
    assert.equal(after.generation, 3);
    const stopped = await second.stop();
    assert.equal(stopped.code, 0, stopped.stderr.toString());
    assert.equal(existsSync(second.socket), false);
  });

  it("a daemon that cannot take the store reports it on one line and leaves no socket", async (t) => {
    const { store } = tempDir(t);
    const holder = await openElement({
      storeDirectory: store,
      source: { kind: "os" },
      write: true,
      lockTimeoutMs: 1_000,
    });
    try {
      const result = await reid(["--store", store, "serve"], { env: SHORT, timeoutMs: 30_000 });
      assertOneLineError(result, 6, /busy/);
      assert.equal(existsSync(`${store}/reid.sock`), false);
    } finally {
      await holder.close();
    }
    // Once the store is free, serve works (and is stopped again).
    const daemon = await startServe(store);
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr.toString());
  });
});
