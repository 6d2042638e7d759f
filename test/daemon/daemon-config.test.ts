// A daemon has its own entropy source and key-encryption key: a command that names others is
// refused instead of being served quietly with the daemon's; seal needs the daemon to hold a key;
// a daemon that stops answering does not hang its clients.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import { ReidError } from "../../src/errors.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

function keyFile(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(32), { mode: 0o600 });
  return path;
}

describe("commands that name another source or key than the daemon's", () => {
  it("are refused with exit 2 naming what the daemon uses; matching ones work", async (t) => {
    const { dir, store } = tempDir(t);
    const kek = keyFile(dir, "kek.bin");
    const other = keyFile(dir, "other.bin");
    await serve(t, store, { args: ["--kek-file", kek] });
    await reidOk(["--store", store, "init"]);
    const stuck = await reid(["--store", store, "--source", "device:/dev/zero", "reset"]);
    assertOneLineError(stuck, 2, /uses entropy source os: give it to 'reid serve'/);
    const byEnv = await reid(["--store", store, "reset"], { env: { REID_SOURCE: "device:/dev/zero" } });
    assertOneLineError(byEnv, 2, /uses entropy source os/);
    const wrongKey = await reid(["--store", store, "--kek-file", other, "keys"]);
    assertOneLineError(wrongKey, 2, /uses another key-encryption key/);
    assert.equal((await reidJson(["--store", store, "status"])).generation, 1, "nothing ran");
    // The daemon's own source and key, named again, are fine.
    await reidOk(["--store", store, "--source", "os", "--kek-file", kek, "reset"]);
    assert.equal((await reidJson(["--store", store, "status"])).generation, 2);
  });

  it("seal through a daemon without a key-encryption key is refused, and nothing is sealed", async (t) => {
    const { dir, store } = tempDir(t);
    const kek = keyFile(dir, "kek.bin");
    await serve(t, store);
    await reidOk(["--store", store, "init"]);
    const refused = await reid(["--store", store, "seal"]);
    assertOneLineError(refused, 2, /needs a key-encryption key/);
    const mismatch = await reid(["--store", store, "--kek-file", kek, "seal"]);
    assertOneLineError(mismatch, 2, /uses no key-encryption key/);
    assert.equal((await reidJson(["--store", store, "status"])).sealed, false);
  });
});

describe("the audit log in single-type mode", () => {
  it("records what was carried out (reset), with what was asked in the detail", async (t) => {
    const { store } = tempDir(t);
    // Set before the first identifier: on the store's directory, made empty.
    mkdirSync(store, { mode: 0o700 });
    await reidOk(["--store", store, "config", "single-type", "on"]);
    await reidOk(["--store", store, "init"]);
    await reidOk(["--store", store, "erase"]);
    const { records } = await reidJson<{ records: { request: string; detail?: { requested?: string } }[] }>([
      "--store",
      store,
      "log",
    ]);
    const requests = records.filter(
      (r) => r.request === "reset" || r.request === "init" || r.request === "erase",
    );
    assert.deepEqual(
      requests.map((r) => [r.request, r.detail?.requested]),
      [
        ["reset", "init"],
        ["reset", "erase"],
      ],
    );
  });
});

describe("a daemon that accepts but never answers", () => {
  it("fails the call after the answer timeout instead of hanging", async (t) => {
    const { dir } = tempDir(t);
    const socket = join(dir, "silent.sock");
    const held: import("node:net").Socket[] = [];
    const silent = createServer((connection) => held.push(connection));
    await new Promise<void>((resolve) => silent.listen(socket, resolve));
    t.after(() => {
      for (const connection of held) connection.destroy();
      silent.close();
    });
    const element = new RemoteElement(socket, {}, 300);
    const error = await element.status().catch((e: unknown) => e);
    await element.close();
    assert.ok(error instanceof ReidError);
    assert.equal(error.code, "daemon-unreachable");
    assert.match(error.message, /no answer within 0.3 s/);
  });
});

describe("PINs at the edges", () => {
  it("a 100-character non-ASCII PIN works through the daemon as it does directly", async (t) => {
    const { dir, store } = tempDir(t);
    const pin = "é".repeat(100);
    const file = join(dir, "pin");
    writeFileSync(file, pin, { mode: 0o600 });
    await reidOk(["--store", store, "pin", "set", "--new-pin-file", file]);
    await reidOk(["--store", store, "--pin-file", file, "init"]);
    await serve(t, store);
    await reidOk(["--store", store, "--pin-file", file, "reset"]);
    assert.equal((await reidJson(["--store", store, "status"])).generation, 2);
  });

  it("a PIN on argv is refused without echoing it", async (t) => {
    const { store } = tempDir(t);
    for (const args of [
      ["--pin=s3cret-pin", "init"],
      ["init", "--pin=s3cret-pin"],
    ]) {
      const result = await reid(["--store", store, ...args]);
      assertOneLineError(result, 2, /unknown option '--pin'/);
      assert.doesNotMatch(result.stderr, /s3cret/);
    }
  });
});
