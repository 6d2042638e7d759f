// Issue 3, part 4, through the built CLI: a key-encryption key (--kek-file FILE or REID_KEK_FILE)
// seals the stored identifier. A copy of the store without the key yields no identifier and one
// clear line (exit 6); a wrong key is exit 6 too; a bad key file is a usage error (exit 2); no
// output ever shows the identifier; and the identifier `reid export` wraps is the same before and
// after `reid seal`.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { recordOfAreaFile } from "../../src/storage/file/file-area.js";
import { decodeArea } from "../../src/storage/record.js";
import { AesGcmSealer } from "../../src/storage/sealer.js";
import { assertOneLineError, type CliOptions, type CliResult, reid } from "../helpers/cli.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";
import {
  assertNoSecretIn,
  assertUnchanged,
  currentRecord,
  storeContains,
  storedIdentifier,
} from "./store.js";

/** A key file of `bytes` with `mode`; returns its path. */
function keyFile(dir: string, name: string, bytes: Uint8Array, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, bytes, { mode });
  return path;
}

/** A named pipe with mode 0600 (no writer ever opens it); returns its path. */
function fifo(dir: string, name: string): string {
  const path = join(dir, name);
  const made = spawnSync("mkfifo", ["-m", "600", path]);
  assert.equal(made.status, 0, "mkfifo failed");
  return path;
}

/** Every output of a session, to scan for identifiers at the end. */
class Session {
  readonly outputs: [what: string, result: CliResult][] = [];
  constructor(private readonly store: string) {}

  async run(args: readonly string[], options: CliOptions = {}, store = this.store): Promise<CliResult> {
    const result = await reid(["--store", store, ...args], options);
    this.outputs.push([`reid ${args.join(" ")}`, result]);
    return result;
  }

  async ok(args: readonly string[], options: CliOptions = {}, store = this.store): Promise<CliResult> {
    const result = await this.run(args, options, store);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  }

  async json(args: readonly string[], options: CliOptions = {}, store = this.store) {
    return JSON.parse((await this.ok([...args, "--json"], options, store)).stdout) as Record<string, unknown>;
  }

  assertNoIdentifierShown(identifiers: readonly Uint8Array[]): void {
    assert.ok(this.outputs.length > 0);
    for (const [what, result] of this.outputs) assertNoSecretIn(result, identifiers, what);
  }
}

/** The identifier a sealed store holds, opened in this process with `kek` (never printed). */
async function unsealedIdentifier(store: string, kek: Uint8Array): Promise<Uint8Array> {
  const opened = await openFileStore(store, {
    write: false,
    lockTimeoutMs: 5000,
    sealer: new AesGcmSealer(kek),
  });
  try {
    const { identifier } = await opened.load();
    assert.ok(identifier, "the store is blank");
    return identifier;
  } finally {
    await opened.close();
  }
}

/** What the issue does: `reid export --wrap-key K | xxd -r -p | openssl enc -d -id-aes256-wrap-pad -K .. -iv A65959A6`. */
function unwrapWithOpenssl(dir: string, hex: string, wrapKey: Uint8Array): Buffer {
  assert.match(hex, /^(?:[0-9a-f]{16})+$/, "export prints whole 8-byte blocks in hex");
  const input = join(dir, "wrapped.bin");
  const output = join(dir, "unwrapped.bin");
  writeFileSync(input, Buffer.from(hex, "hex"), { mode: 0o600 });
  const args = ["enc", "-d", "-id-aes256-wrap-pad", "-K", Buffer.from(wrapKey).toString("hex")];
  const result = spawnSync("openssl", [...args, "-iv", "A65959A6", "-in", input, "-out", output], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  assert.equal(result.error, undefined, "openssl could not be run");
  assert.equal(result.status, 0, `openssl enc -d -id-aes256-wrap-pad failed: ${result.stderr}`);
  return readFileSync(output);
}

/** A private directory with a store path, a key-encryption key, a second one and a wrap key. */
function setup(t: TestContext) {
  const { dir, store } = tempDir(t);
  const kekBytes = randomBytes(32);
  const wrapBytes = randomBytes(32);
  return {
    dir,
    store,
    kekBytes,
    kek: keyFile(dir, "kek.bin", kekBytes),
    otherKek: keyFile(dir, "other-kek.bin", randomBytes(32)),
    wrapBytes,
    wrap: keyFile(dir, "wrap.bin", wrapBytes),
  };
}

const SEALED_LINE = /^sealed +yes\b/m;

describe("sealed store through the CLI", () => {
  for (const via of ["--kek-file", "REID_KEK_FILE"] as const) {
    test(`with the key by ${via}: init, reset, keys and export work, status shows sealed, nothing in clear`, async (t) => {
      const { dir, store, kek, kekBytes, wrap, wrapBytes } = setup(t);
      const session = new Session(store);
      const keyed = (args: string[]) => (via === "--kek-file" ? ["--kek-file", kek, ...args] : args);
      const env: CliOptions = via === "--kek-file" ? {} : { env: { REID_KEK_FILE: kek } };

      const init = await session.json(keyed(["init"]), env);
      assert.deepEqual([init.state, init.generation], ["set", 1]);
      const first = await unsealedIdentifier(store, kekBytes);
      assert.equal(storedIdentifier(store), null, "the decoder finds an identifier in clear");
      assert.ok(!storeContains(store, first), "the area files hold the identifier in clear");

      const text = await session.ok(keyed(["status"]), env);
      assert.match(text.stdout, SEALED_LINE);
      assert.equal((await session.json(keyed(["status"]), env)).sealed, true);
      assert.match((await session.ok(["status"])).stdout, SEALED_LINE, "status without the key");

      const keys = await session.json(keyed(["keys"]), env);
      assert.equal(keys.handle, init.handle);
      assert.match(String(keys.ed25519), /^[0-9a-f]{64}$/);

      const wrapped = await session.ok(keyed(["export", "--wrap-key", wrap]), env);
      assertSameSecret(
        unwrapWithOpenssl(dir, wrapped.stdout.trim(), wrapBytes),
        first,
        "unwrapped identifier",
      );

      const reset = await session.json(keyed(["reset"]), env);
      assert.deepEqual([reset.state, reset.generation], ["set", 2]);
      const second = await unsealedIdentifier(store, kekBytes);
      assertDifferentSecret(first, second);
      for (const identifier of [first, second])
        assert.ok(!storeContains(store, identifier), "in clear after reset");
      const after = await session.json(keyed(["keys"]), env);
      assert.equal(after.handle, reset.handle);
      assert.notEqual(after.ed25519, keys.ed25519, "the keys did not change with the identifier");
      const rewrapped = await session.ok(keyed(["export", "--wrap-key", wrap]), env);
      assertSameSecret(unwrapWithOpenssl(dir, rewrapped.stdout.trim(), wrapBytes), second, "after reset");

      session.assertNoIdentifierShown([first, second]);
    });
  }

  test("a copy of the store elsewhere (cp -a): without the key exit 6 and no identifier; a wrong key exit 6; status works", async (t) => {
    const { dir, store, kek, kekBytes, otherKek, wrap } = setup(t);
    const session = new Session(store);
    const init = await session.json(["--kek-file", kek, "init"]);
    const identifier = await unsealedIdentifier(store, kekBytes);
    const original = await session.json(["--kek-file", kek, "keys"]);

    const copy = join(dir, "elsewhere", "store");
    const mkdir = spawnSync("mkdir", ["-m", "700", join(dir, "elsewhere")]);
    assert.equal(mkdir.status, 0);
    const cp = spawnSync("cp", ["-a", store, copy], { stdio: ["ignore", "ignore", "pipe"] });
    assert.equal(cp.status, 0, `cp -a failed: ${cp.stderr}`);
    assert.ok(!storeContains(copy, identifier), "the copy holds the identifier in clear");

    const needIdentifier: string[][] = [["keys"], ["export", "--wrap-key", wrap], ["cert"]];
    await assertUnchanged(copy, async () => {
      for (const args of needIdentifier) {
        const missing = await session.run(args, {}, copy);
        assertOneLineError(missing, 6, /sealed.*key-encryption key/);
        const missingJson = await session.run([...args, "--json"], {}, copy);
        assertOneLineError(missingJson, 6, /sealed.*key-encryption key/);
        assert.equal(JSON.parse(missingJson.stderr).error.code, "store-key-missing");

        const wrong = await session.run(["--kek-file", otherKek, ...args], {}, copy);
        assertOneLineError(wrong, 6, /wrong key-encryption key/);
        const wrongJson = await session.run(["--kek-file", otherKek, ...args, "--json"], {}, copy);
        assertOneLineError(wrongJson, 6, /wrong key-encryption key/);
        assert.equal(JSON.parse(wrongJson.stderr).error.code, "store-key-wrong");
        const wrongEnv = await session.run([...args, "--json"], { env: { REID_KEK_FILE: otherKek } }, copy);
        assert.equal(wrongEnv.code, 6);
        assert.equal(JSON.parse(wrongEnv.stderr).error.code, "store-key-wrong");
      }
      const status = await session.json(["status"], {}, copy);
      assert.deepEqual(
        [status.state, status.generation, status.handle, status.sealed],
        ["set", 1, init.handle, true],
      );
      assert.match(
        (await session.ok(["status"], {}, copy)).stdout,
        new RegExp(`^handle +${init.handle}$`, "m"),
      );
    });
    // The copy is whole: with the right key it gives the same keys, so the key was all it lacked.
    const withKey = await session.json(["--kek-file", kek, "keys"], {}, copy);
    assert.deepEqual(withKey, original);
    session.assertNoIdentifierShown([identifier]);
  });

  test("a bad key-encryption key file (31 or 33 bytes, mode 0644, missing, a directory, a FIFO) is a usage error, exit 2, one line", async (t) => {
    const { dir, store, kek } = setup(t);
    const session = new Session(store);
    await session.ok(["--kek-file", kek, "init"]);
    const bad: [what: string, path: string, message: RegExp][] = [
      [
        "31 bytes",
        keyFile(dir, "short.bin", randomBytes(31)),
        /has 31 bytes; it must hold exactly 32 raw bytes/,
      ],
      [
        "33 bytes",
        keyFile(dir, "long.bin", randomBytes(33)),
        /has 33 bytes; it must hold exactly 32 raw bytes/,
      ],
      [
        "mode 0644",
        keyFile(dir, "open.bin", randomBytes(32), 0o644),
        /readable by other users \(mode 0644\)/,
      ],
      ["missing", join(dir, "missing.bin"), /cannot read key-encryption key file .*no such file/],
      ["a directory", dir, /key-encryption key file .* is not a regular file/],
      // A FIFO nobody writes to: opening it must not wait for a writer.
      ["a FIFO", fifo(dir, "fifo.bin"), /key-encryption key file .* is not a regular file/],
    ];
    await assertUnchanged(store, async () => {
      for (const [what, path, message] of bad) {
        for (const args of [["status"], ["keys"], ["reset"], ["seal"]]) {
          const flag = await session.run(["--kek-file", path, ...args]);
          assertOneLineError(flag, 2, message);
          assert.match(flag.stderr, /key-encryption key file/, `${what}: the message names the key file`);
          const env = await session.run([...args, "--json"], { env: { REID_KEK_FILE: path } });
          assertOneLineError(env, 2, message);
          assert.equal(JSON.parse(env.stderr).error.code, "bad-key-file", `${what}, ${args[0]}`);
        }
      }
    });
    // The same store still opens with its own key.
    await session.ok(["--kek-file", kek, "keys"]);
  });

  test("erase needs no key and the store keeps sealing: init without the key exit 6, with it exit 0", async (t) => {
    const { store, kek, kekBytes } = setup(t);
    const session = new Session(store);
    await session.ok(["--kek-file", kek, "init"]);
    const first = await unsealedIdentifier(store, kekBytes);
    const erased = await session.json(["erase"]);
    assert.deepEqual([erased.state, erased.generation], ["blank", 1]);
    assert.ok(!storeContains(store, first), "erase left the identifier");
    await assertUnchanged(store, async () => {
      for (const request of ["init", "reset"]) {
        const refused = await session.run([request, "--json"]);
        assertOneLineError(refused, 6, /sealed.*key-encryption key/);
        assert.equal(JSON.parse(refused.stderr).error.code, "store-key-missing");
      }
      const status = await session.json(["status"]);
      assert.deepEqual([status.state, status.generation, status.sealed], ["blank", 1, true]);
    });
    const init = await session.json(["--kek-file", kek, "init"]);
    assert.deepEqual([init.state, init.generation], ["set", 2]);
    const second = await unsealedIdentifier(store, kekBytes);
    assert.equal(currentRecord(store).sealed, true);
    assert.ok(!storeContains(store, second), "the new identifier is in clear");
    session.assertNoIdentifierShown([first, second]);
  });

  test("reid seal: needs a key (exit 2); seals a plain store with the same identifier, generation and handle", async (t) => {
    const { dir, store, kek, wrap, wrapBytes } = setup(t);
    const session = new Session(store);
    await session.ok(["init"]);
    await session.ok(["reset"]);
    const identifier = storedIdentifier(store);
    assert.ok(identifier, "the plain store holds no identifier");
    assert.ok(storeContains(store, identifier), "the plain store's identifier is not found by the scan");
    const before = await session.json(["status"]);
    assert.deepEqual([before.generation, before.sealed], [2, false]);
    const keysBefore = await session.json(["keys"]);
    const exported = await session.ok(["export", "--wrap-key", wrap]);
    assertSameSecret(unwrapWithOpenssl(dir, exported.stdout.trim(), wrapBytes), identifier, "before sealing");

    await assertUnchanged(store, async () => {
      assertOneLineError(await session.run(["seal"]), 2, /'reid seal' needs a key-encryption key/);
      const json = await session.run(["seal", "--json"]);
      assertOneLineError(json, 2, /needs a key-encryption key/);
      assert.equal(JSON.parse(json.stderr).error.code, "usage");
      // With the key given but the store still in clear, reads are refused until it is sealed.
      const notSealed = await session.run(["--kek-file", kek, "keys", "--json"]);
      assertOneLineError(notSealed, 6, /unsealed.*run 'reid seal'/);
      assert.equal(JSON.parse(notSealed.stderr).error.code, "store-not-sealed");
    });

    const sealed = await session.ok(["--kek-file", kek, "seal"]);
    assert.match(sealed.stdout, new RegExp(`^sealed: generation 2, handle ${before.handle}$`, "m"));
    const after = await session.json(["status"]);
    assert.deepEqual(
      [after.state, after.generation, after.handle, after.sealed],
      ["set", 2, before.handle, true],
    );
    assert.equal(storedIdentifier(store), null, "the decoder still finds an identifier in clear");
    assert.ok(!storeContains(store, identifier), "sealing left the identifier in clear");
    const again = await session.json(["--kek-file", kek, "seal"]);
    assert.deepEqual([again.generation, again.sealed], [2, true]);

    assert.deepEqual(await session.json(["--kek-file", kek, "keys"]), keysBefore, "sealing changed the keys");
    const sealedExport = await session.ok(["--kek-file", kek, "export", "--wrap-key", wrap]);
    assertSameSecret(
      unwrapWithOpenssl(dir, sealedExport.stdout.trim(), wrapBytes),
      identifier,
      "after sealing",
    );
    const noKey = await session.run(["export", "--wrap-key", wrap]);
    assertOneLineError(noKey, 6, /sealed.*key-encryption key/);
    // The record's sealing flag, read straight from the area file.
    const area = currentRecord(store).area;
    const decoded = decodeArea(recordOfAreaFile(new Uint8Array(readFileSync(join(store, `area-${area}`)))));
    assert.ok(decoded.kind === "record" && decoded.record.sealed && decoded.sealed !== null);
    session.assertNoIdentifierShown([identifier]);
  });

  test("a wrong key is never trusted: seal and reset exit 6 and change nothing; erase needs no right key", async (t) => {
    const { store, kek, otherKek, kekBytes } = setup(t);
    const session = new Session(store);
    await session.ok(["--kek-file", kek, "init"]);
    const identifier = await unsealedIdentifier(store, kekBytes);
    await assertUnchanged(store, async () => {
      for (const args of [["seal"], ["reset"], ["init"], ["keys"]]) {
        const refused = await session.run(["--kek-file", otherKek, ...args, "--json"]);
        const code = args[0] === "init" ? "already-initialized" : "store-key-wrong";
        assertOneLineError(refused, args[0] === "init" ? 3 : 6);
        assert.equal(JSON.parse(refused.stderr).error.code, code, `reid ${args[0]} under a wrong key`);
      }
    });
    // The right key still opens the same identifier: the wrong one re-keyed nothing.
    assertSameSecret(await unsealedIdentifier(store, kekBytes), identifier);
    // Destroying needs no key, right or wrong; the store keeps sealing.
    const erased = await session.json(["--kek-file", otherKek, "erase"]);
    assert.deepEqual([erased.state, erased.generation], ["blank", 1]);
    assert.ok(!storeContains(store, identifier), "erase left the identifier");
    session.assertNoIdentifierShown([identifier]);
  });

  test("reid seal on a blank store makes it seal: init without the key is then refused", async (t) => {
    const { store, kek } = setup(t);
    const session = new Session(store);
    // Sealing needs a store: a missing one is said to be none, and is not made.
    assertOneLineError(
      await session.run(["--kek-file", kek, "seal"]),
      6,
      /no store at .*'reid init' creates it/,
    );
    mkdirSync(store, { mode: 0o700 });
    const sealed = await session.json(["--kek-file", kek, "seal"]);
    assert.deepEqual([sealed.state, sealed.sealed], ["blank", true]);
    assert.equal((await session.json(["status"])).sealed, true);
    await assertUnchanged(store, async () => {
      const refused = await session.run(["init", "--json"]);
      assertOneLineError(refused, 6, /sealed.*key-encryption key/);
      assert.equal(JSON.parse(refused.stderr).error.code, "store-key-missing");
    });
    const init = await session.json(["--kek-file", kek, "init"]);
    assert.deepEqual([init.state, init.generation], ["set", 1]);
    assert.equal(currentRecord(store).sealed, true);
  });
});
