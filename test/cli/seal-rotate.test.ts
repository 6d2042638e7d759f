// docs/spec.md §5.4 on the file backend, through the built CLI: `seal --rotate --new-kek-file`
// moves a store from one key-encryption key to another (the old key no longer opens it), `unseal`
// commits the identifier in clear again (the sealed flag is no longer sticky), store.json names the
// key; a change a crash left noted in store.json is finished or rolled back by the next writer,
// whichever key the record is under, while a reader changes nothing; and every misuse of the new
// options is one line and exit 2 (3 for a store in clear).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { keyIdOf } from "../../src/storage/sealer.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { secretFile, tempDir } from "../helpers/temp.js";

interface Status {
  readonly handle: string | null;
  readonly sealed: boolean;
  readonly sealingKey: string | null;
  readonly sealingKeyHome: string | null;
}

function element(t: TestContext) {
  const { dir, store } = tempDir(t);
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const a = secretFile(dir, "a.kek", keyA);
  const b = secretFile(dir, "b.kek", keyB);
  const run = (args: readonly string[]): Promise<CliResult> => reid(["--store", store, ...args]);
  const json = async <T>(args: readonly string[]) => {
    const result = await run([...args, "--json"]);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  };
  const storeFile = () => JSON.parse(readFileSync(join(store, "store.json"), "utf8"));
  return { dir, store, a, b, idA: keyIdOf(keyA), idB: keyIdOf(keyB), run, json, storeFile };
}

const errorCode = (result: CliResult) => JSON.parse(result.stderr).error.code as string;

describe("reid seal --rotate and unseal with key-encryption keys", () => {
  test("rotate to a new key-encryption key, then unseal: the identifier stays, the old key opens nothing", async (t) => {
    const { a, b, idA, idB, run, json, storeFile } = element(t);
    await json(["--kek-file", a, "init"]);
    const handle = (await json<Status>(["--kek-file", a, "status"])).handle;
    assert.deepEqual(storeFile().sealing, { key: "kek", id: idA }, "store.json does not name the key");

    const rotated = await json<Status>(["--kek-file", a, "seal", "--rotate", "--new-kek-file", b]);
    assert.equal(rotated.sealingKey, idB);
    assert.deepEqual(storeFile().sealing, { key: "kek", id: idB });
    assert.equal((await json<{ handle: string }>(["--kek-file", b, "keys"])).handle, handle);
    const old = await run(["--kek-file", a, "keys", "--json"]);
    assertOneLineError(old, 6);
    assert.equal(errorCode(old), "store-key-wrong");
    assert.equal(errorCode(await run(["keys", "--json"])), "store-key-missing");

    const unsealed = await json<Status>(["--kek-file", b, "unseal"]);
    assert.equal(unsealed.sealed, false);
    assert.equal(storeFile().sealing, undefined);
    // In clear: no key needed, and a reset stays in clear (the flag is not sticky once unsealed).
    assert.equal((await json<{ handle: string }>(["keys"])).handle, handle);
    await json(["reset"]);
    assert.equal((await json<Status>(["status"])).sealed, false);
    // And sealed again under a key given.
    await json(["--kek-file", a, "seal"]);
    assert.equal((await json<Status>(["--kek-file", a, "status"])).sealed, true);
  });

  test("a change a crash left noted: a reader uses the key that opens the record, the next writer finishes or rolls back", async (t) => {
    const { a, b, idA, idB, run, json, storeFile, store } = element(t);
    await json(["--kek-file", a, "init"]);
    const handle = (await json<{ handle: string }>(["--kek-file", a, "keys"])).handle;
    const noted = { ...storeFile(), pending: { to: { key: "kek", id: idB } } };
    const write = (file: unknown) =>
      writeFileSync(join(store, "store.json"), `${JSON.stringify(file)}\n`, { mode: 0o600 });

    // Noted, but the record still under the old key (a crash before the commit): rolled back.
    write(noted);
    const withNew = await run(["--kek-file", b, "keys", "--json"]);
    assert.equal(errorCode(withNew), "store-key-wrong", "the new key opened a record it never sealed");
    assert.equal((await json<{ handle: string }>(["--kek-file", a, "keys"])).handle, handle);
    assert.deepEqual(storeFile(), noted, "a reader settled the change");
    await json(["--kek-file", a, "config", "single-type", "off"]);
    assert.equal(storeFile().pending, undefined, "the writer did not roll the change back");
    assert.deepEqual(storeFile().sealing, { key: "kek", id: idA });

    // The record committed under the new key, store.json not yet told (a crash after the commit).
    await json(["--kek-file", a, "seal", "--rotate", "--new-kek-file", b]);
    write({ ...storeFile(), sealing: { key: "kek", id: idA }, pending: { to: { key: "kek", id: idB } } });
    assert.equal((await json<{ handle: string }>(["--kek-file", b, "keys"])).handle, handle);
    assert.equal(errorCode(await run(["--kek-file", a, "keys", "--json"])), "store-key-wrong");
    await json(["--kek-file", b, "config", "single-type", "off"]);
    assert.equal(storeFile().pending, undefined, "the writer did not finish the change");
    assert.deepEqual(storeFile().sealing, { key: "kek", id: idB });

    // An unseal committed, store.json not yet told: the record in clear is the unseal's.
    await json(["--kek-file", b, "unseal"]);
    write({ ...storeFile(), sealing: { key: "kek", id: idB }, pending: { to: null } });
    assert.equal((await json<{ handle: string }>(["keys"])).handle, handle);
    await json(["config", "single-type", "off"]);
    assert.equal(storeFile().sealing, undefined);
    // Without a change noted, a record in clear under a store.json that names a key is refused.
    write({ ...storeFile(), sealing: { key: "kek", id: idB } });
    assert.equal(errorCode(await run(["--kek-file", b, "keys", "--json"])), "store-not-sealed");
  });

  test("misuse is one line: exit 2 for bad options, 3 for a store in clear", async (t) => {
    const { a, b, run, json } = element(t);
    await json(["init"]);
    for (const [args, pattern] of [
      [["seal"], /needs a key-encryption key/],
      [["seal", "--key", "file"], /--key takes tpm or pkcs11/],
      [["seal", "--key", "tpm"], /TPM backend/],
      [["seal", "--key", "pkcs11"], /PKCS#11 backend/],
      [["--kek-file", a, "seal", "--key", "tpm"], /one key/],
      [["seal", "--new-kek-file", b], /goes with --rotate/],
      [["seal", "--rotate", "--key", "tpm", "--new-kek-file", b], /one new key/],
      [["unseal", "now"], /./],
    ] as const) {
      assertOneLineError(await run(args), 2, pattern);
    }
    assertOneLineError(await run(["unseal"]), 3, /not sealed/);
    assertOneLineError(
      await run(["--kek-file", a, "seal", "--rotate", "--new-kek-file", b]),
      3,
      /not sealed/,
    );
    await json(["--kek-file", a, "seal"]);
    assertOneLineError(await run(["--kek-file", a, "seal", "--rotate"]), 2, /new-kek-file/);
    assertOneLineError(await run(["--kek-file", a, "seal", "--rotate", "--new-kek-file", a]), 2, /already/);
    assert.equal((await json<Status>(["--kek-file", a, "status"])).sealed, true);
  });
});
