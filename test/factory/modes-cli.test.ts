// The mode switch through the real CLI (patent claims 20 and 26): init --factory, factory mode
// refusing the TRNG path, `reid mode random|factory` as a gated, audited owner operation, and the
// factory identity restored exactly. Every command is a separate process.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openElement } from "../../src/element/element.js";
import type { Notification } from "../../src/element/request.js";
import {
  assertNoSecretIn,
  assertUnchanged,
  currentRecord,
  status,
  storeContains,
  storedIdentifier,
} from "../cli/store.js";
import { assertOneLineError, type CliResult, reid, reidJson, reidOk } from "../helpers/cli.js";
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

type Note = Notification & Record<string, unknown>;

describe("reid init --factory puf-sim and reid mode", () => {
  it("switches factory -> random -> factory: the factory identity comes back exactly, each step in status", async (t) => {
    const { store } = tempDir(t);
    const init = await reidJson<Note>([
      "--store",
      store,
      "init",
      "--factory",
      "puf-sim",
      "--format",
      "base32:40",
    ]);
    assert.equal(init.request, "init");
    assert.equal(init.mode, "factory");
    assert.equal(init.generation, 1);
    const factoryHandle = init.handle;
    const factoryIdentifier = storedIdentifier(store);
    let s = await status(store);
    assert.equal(s.mode, "factory");
    assert.equal(s.factory, "puf-sim");
    assert.equal(currentRecord(store).mode, "factory");

    const random = await reidJson<Note>(["--store", store, "mode", "random"]);
    assert.deepEqual([random.request, random.mode, random.generation], ["mode-random", "random", 2]);
    assert.notEqual(random.handle, factoryHandle);
    assertDifferentSecret(storedIdentifier(store), factoryIdentifier);
    // The factory identifier is gone from the storage area, both areas.
    assert.ok(
      !storeContains(store, factoryIdentifier as Uint8Array),
      "the factory identifier is still stored",
    );
    s = await status(store);
    assert.deepEqual([s.mode, s.factory, s.handle], ["random", "puf-sim", random.handle]);

    // Random mode: the TRNG path works as ever, in any format.
    const reset = await reidJson<Note>(["--store", store, "reset", "--format", "digits:50"]);
    assert.equal(reset.mode, "random");
    assert.equal((await status(store)).format, "digits:50");

    const back = await reidJson<Note>(["--store", store, "mode", "factory"]);
    assert.deepEqual(
      [back.request, back.mode, back.generation, back.handle],
      ["mode-factory", "factory", 4, factoryHandle],
    );
    // Exactly the factory identifier: in the format it was provisioned with.
    assertSameSecret(storedIdentifier(store), factoryIdentifier);
    assert.equal((await status(store)).format, "base32:40");
    const keys = await reidJson(["--store", store, "keys"]);
    assert.equal(keys.handle, factoryHandle);
    const text = await reidOk(["--store", store, "status"]);
    assert.match(text.stdout, /^mode {8}factory \(factory source puf-sim\)$/m);
    factoryIdentifier?.fill(0);
  });

  it("in factory mode reset and erase exit 3 and change nothing; init exits 3; switching to the mode it is in exits 3", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init", "--factory", "puf-sim", "--format", "digits:40"]);
    assert.equal((await status(store)).format, "digits:40");
    for (const args of [
      ["reset"],
      ["erase"],
      ["init"],
      ["init", "--factory", "puf-sim"],
      ["mode", "factory"],
    ]) {
      const result = await assertUnchanged(store, () => reid(["--store", store, ...args]));
      assertOneLineError(result, 3, /factory mode|already holds|already in factory mode/);
    }
    await reidOk(["--store", store, "mode", "random"]);
    assertOneLineError(await reid(["--store", store, "mode", "random"]), 3, /already in random mode/);
    // Single-type mode turns every request into a reset; factory mode still refuses it.
    await reidOk(["--store", store, "mode", "factory"]);
    await reidOk(["--store", store, "config", "single-type", "on"]);
    for (const type of ["init", "erase"]) {
      const result = await assertUnchanged(store, () => reid(["--store", store, type]));
      assertOneLineError(result, 3, /factory mode: .* so reset is refused/);
    }
  });

  it("a store never provisioned has no factory identity: mode factory exits 3; a damaged record of it exits 6", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const result = await assertUnchanged(store, () => reid(["--store", store, "mode", "factory"]));
    assertOneLineError(result, 3, /no factory identity: it was never initialized with 'reid init --factory/);
    assert.equal((await status(store)).factory, null);
    mkdirSync(join(store, "factory"), { mode: 0o700 });
    for (const bad of ["{", '{"source":"silicon","format":"raw:32"}', '{"source":"host","format":"raw:3"}']) {
      writeFileSync(join(store, "factory", "provisioning.json"), bad, { mode: 0o600 });
      assertOneLineError(await reid(["--store", store, "status"]), 6, /provisioning.json is corrupt/);
    }
  });

  it("bad input exits 2 with one line and writes nothing", async (t) => {
    const { store } = tempDir(t);
    const cases: [string[], RegExp][] = [
      [["init", "--factory", "silicon"], /bad --factory 'silicon': expected puf-sim, tpm, host/],
      [["init", "--factory", "puf-sim", "--at", "2099-01-01T00:00:00Z"], /--factory cannot be scheduled/],
      [["init", "--factory", "tpm"], /the tpm factory source needs a TPM/],
      [["mode"], /missing an argument/],
      [["mode", "sideways"], /bad mode 'sideways': expected random or factory/],
      [["mode", "random", "factory"], /./],
      [["reset", "--factory", "puf-sim"], /./],
    ];
    for (const [args, pattern] of cases) {
      const result = await assertUnchanged(store, () => reid(["--store", store, ...args]));
      assertOneLineError(result, 2, pattern);
    }
    const env = { REID_PUF_SIM: "ber=high" };
    const result = await assertUnchanged(store, () =>
      reid(["--store", store, "init", "--factory", "puf-sim"], { env }),
    );
    assertOneLineError(result, 2, /bad REID_PUF_SIM 'ber=high'/);
  });

  it("a PUF too noisy to reconstruct: exit 5, one line, the random identifier stays", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init", "--factory", "puf-sim"]);
    await reidOk(["--store", store, "mode", "random"]);
    const before = await status(store);
    const env = { REID_PUF_SIM: "ber=0.42" };
    const result = await reid(["--store", store, "mode", "factory"], { env });
    assertOneLineError(result, 5, /PUF response could not be reconstructed/);
    const after = await status(store);
    assert.deepEqual(
      [after.mode, after.generation, after.handle],
      ["random", before.generation, before.handle],
    );
    // Cold and aged, within the code's margin: it comes back.
    await reidOk(["--store", store, "mode", "factory"], {
      env: { REID_PUF_SIM: "ber=0.08,temperature=-40,age=10" },
    });
    assert.equal((await status(store)).mode, "factory");
  });

  it("the switch is an owner operation: PIN-gated (exit 4 without it), audited, and no secret in any output", async (t) => {
    const { dir, store } = tempDir(t);
    const pinFile = join(dir, "pin");
    writeFileSync(pinFile, "4711-owner\n", { mode: 0o600 });
    const outputs: [string, CliResult][] = [];
    const run = async (args: string[], code = 0) => {
      const result = await reid(["--store", store, ...args]);
      assert.equal(result.code, code, `reid ${args.join(" ")}: ${result.stderr}`);
      outputs.push([args.join(" "), result]);
      return result;
    };
    await run(["init", "--factory", "puf-sim"]);
    await run(["pin", "set", "--new-pin-file", pinFile]);
    const refused = await assertUnchanged(store, () => reid(["--store", store, "mode", "random"]));
    assertOneLineError(refused, 4, /PIN/);
    await run(["--pin-file", pinFile, "mode", "random"]);
    await run(["--pin-file", pinFile, "mode", "factory"]);
    const log = await reidJson<{
      records: { request: string; outcome: string; detail?: Record<string, unknown> }[];
    }>(["--store", store, "log"]);
    const modes = log.records.filter((r) => r.request.startsWith("mode-") || r.request === "init");
    assert.deepEqual(
      modes.map((r) => [r.request, r.outcome, r.detail?.from ?? r.detail?.factory]),
      [
        ["init", "ok", "puf-sim"],
        // Refused at the gate, before the element was looked at.
        ["mode-random", "pin-required", undefined],
        ["mode-random", "ok", "factory"],
        ["mode-factory", "ok", "random"],
      ],
    );
    await reidOk(["--store", store, "log", "--verify"]);
    // The chip's seed and the identifier never reach any output.
    const silicon = Buffer.from(
      readFileSync(join(store, "factory", "puf-sim-silicon"), "utf8").trim(),
      "hex",
    );
    const identifier = storedIdentifier(store) as Uint8Array;
    for (const [what, result] of outputs) assertNoSecretIn(result, [silicon, identifier], what);
    const helper = readFileSync(join(store, "factory", "puf-sim-helper.json"));
    assert.ok(
      !containsBytes(helper, identifier) &&
        !containsBytes(helper, Buffer.from(Buffer.from(identifier).toString("hex"))),
    );
  });

  it("notifies every switch to the element's listeners (what reid events and the page show)", async (t) => {
    const { store } = tempDir(t);
    const element = await openElement({
      storeDirectory: store,
      source: { kind: "os" },
      write: true,
      lockTimeoutMs: 5000,
    });
    t.after(() => element.close());
    const seen: Notification[] = [];
    element.control.onNotification((n) => seen.push(n));
    await element.control.submit({ type: "init", factory: "puf-sim" });
    await element.control.switchMode("random");
    await element.control.switchMode("factory");
    await assert.rejects(element.control.switchMode("factory"), /already in factory mode/);
    assert.deepEqual(
      seen.map((n) => [n.request, n.mode, n.generation]),
      [
        ["init", "factory", 1],
        ["mode-random", "random", 2],
        ["mode-factory", "factory", 3],
      ],
    );
    assert.equal(seen[0]?.handle, seen[2]?.handle);
  });
});

describe("reid init --factory host", () => {
  it("derives the identity from the machine id through a keyed hash: same host same handle, another host another", async (t) => {
    const { dir } = tempDir(t);
    const idFile = join(dir, "machine-id");
    const machineId = randomBytes(16).toString("hex");
    writeFileSync(idFile, `${machineId}\n`);
    const env = { REID_HOST_ID_FILE: idFile };
    const handles: string[] = [];
    for (const name of ["a", "b"]) {
      const store = join(dir, name);
      const result = await reidOk(["--store", store, "--json", "init", "--factory", "host"], { env });
      handles.push(JSON.parse(result.stdout).handle);
      // The raw id is nowhere in the store, nor the output.
      const raw = Buffer.from(machineId, "hex");
      for (const area of ["area-0", "area-1"]) {
        const bytes = readFileSync(join(store, area));
        assert.ok(!containsBytes(bytes, raw) && !containsBytes(bytes, Buffer.from(machineId)));
      }
      assert.ok(!result.stdout.includes(machineId) && !result.stderr.includes(machineId));
    }
    assert.equal(handles[0], handles[1]);
    // The same id written as a UUID, upper case, is the same host.
    const uuidFile = join(dir, "product_uuid");
    const u = machineId.toUpperCase();
    writeFileSync(
      uuidFile,
      `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}\n`,
    );
    const same = await reidJson(["--store", join(dir, "c"), "init", "--factory", "host"], {
      env: { REID_HOST_ID_FILE: uuidFile },
    });
    assert.equal(same.handle, handles[0]);
    writeFileSync(idFile, `${randomUUID().replaceAll("-", "")}\n`);
    const other = await reidJson(["--store", join(dir, "d"), "init", "--factory", "host"], { env });
    assert.notEqual(other.handle, handles[0]);
  });

  it("the real host's machine id works, and an unreadable or placeholder id is exit 5 with one line", async (t) => {
    const { dir } = tempDir(t);
    const real = await reidJson(["--store", join(dir, "real"), "init", "--factory", "host"]);
    assert.match(String(real.handle), /^[0-9a-f]{32}$/);
    const placeholder = join(dir, "zero-id");
    writeFileSync(placeholder, `${"0".repeat(32)}\n`);
    for (const file of [placeholder, join(dir, "missing")]) {
      const store = join(dir, "bad");
      const result = await reid(["--store", store, "init", "--factory", "host"], {
        env: { REID_HOST_ID_FILE: file },
      });
      assertOneLineError(result, 5, /no host identity could be read/);
    }
  });
});
