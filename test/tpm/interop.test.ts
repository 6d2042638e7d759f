// Interop both ways with Debian's tpm2-tools on one real swtpm: what reid writes, tpm2_nvread reads
// back byte for byte (and it is a valid record whose identifier derives the keys reid prints); what
// tpm2-tools defines and writes, reid handles as the store contract says. Derivation (SPEC
// section 4) is recomputed from the TPM-held identifier with node:crypto alone.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { decodeArea, type StoredRecord } from "../../src/storage/record.js";
import { independentKeys, openssl, type PublicKeys } from "../cli/derivation.js";
import { assertNoSecretIn } from "../cli/store.js";
import { assertOneLineError } from "../helpers/cli.js";
import { assertSameSecret } from "../helpers/secret.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import * as tools from "./tools.js";
import { storeCli } from "./tools.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524700;

/** A store directory bound to a fresh index pair of the file's swtpm. */
async function tpmStore(t: TestContext) {
  const { address } = await swtpm();
  const nvIndex = nextIndex;
  nextIndex += 4;
  const { dir, store } = tempDir(t);
  // The store's directory exists, as one a TPM record is read into does (a missing one is no store).
  mkdirSync(store, { mode: 0o700 });
  const spec = `swtpm:host=${address.kind === "tcp" ? address.host : ""},port=${address.kind === "tcp" ? address.port : 0},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`;
  const { run, ok, json } = storeCli(store, spec);
  return { dir, store, spec, nvIndex, run, ok, json };
}

/** Runs a tpm2-tools command against the file's swtpm. */
async function tpm2(args: readonly string[]) {
  return tools.tpm2((await swtpm()).tcti, args);
}

async function tpm2Ok(args: readonly string[]) {
  return tools.tpm2Ok((await swtpm()).tcti, args);
}

/** tpm2_nvdefine of a 256-byte owner index, with reid's attributes unless told otherwise. */
async function nvdefine(index: number, size = "256", attributes = "ownerread|ownerwrite|no_da") {
  await tpm2Ok(["tpm2_nvdefine", "-C", "o", "-s", size, "-a", attributes, hexIndex(index)]);
}

const hexIndex = (index: number) => `0x${index.toString(16)}`;

/** A copy of a record with no store id or owner hint (bytes 48..63 and 160..223), its checksum made to match. */
function ownerless(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy.fill(0, 48, 64);
  copy.fill(0, 160, 224);
  copy.set(createHash("sha256").update(copy.subarray(0, 224)).digest(), 224);
  return copy;
}

/**
 * tpm2_nvread of a whole 256-byte index, or null when tpm2-tools says it is not defined. reid's
 * indices authorize themselves (their authValue is empty before a PIN is set); an index with an
 * earlier version's attributes (ownerread) is read with the owner's authorization.
 */
async function nvread(index: number): Promise<Uint8Array | null> {
  let result = await tpm2(["tpm2_nvread", "-C", hexIndex(index), "-s", "256", hexIndex(index)]);
  if (result.code !== 0 && /0x149|0x12f|NV_AUTHORIZATION|not available/i.test(result.stderr)) {
    result = await tpm2(["tpm2_nvread", "-C", "o", "-s", "256", hexIndex(index)]);
  }
  if (result.code !== 0) {
    assert.match(result.stderr, /handle|0x18b|not defined|TPM_RC_HANDLE/i, result.stderr);
    return null;
  }
  return new Uint8Array(result.stdout);
}

/** The record tpm2-tools finds in reid's two indices: exactly one holds one. */
async function recordViaTpm2Tools(
  nvIndex: number,
): Promise<{ record: StoredRecord; bytes: Uint8Array; index: number }> {
  const found = [];
  for (const index of [nvIndex, nvIndex + 1]) {
    const bytes = await nvread(index);
    if (!bytes) continue;
    const decoded = decodeArea(bytes);
    if (decoded.kind === "record") found.push({ record: decoded.record, bytes, index });
  }
  assert.equal(found.length, 1, "exactly one of reid's indices holds a record");
  return found[0] as { record: StoredRecord; bytes: Uint8Array; index: number };
}

describe("tpm2-tools reads what reid writes", () => {
  test("init: tpm2_nvread returns a valid record whose identifier derives reid's keys; export unwraps to it", async (t) => {
    const element = await tpmStore(t);
    await element.ok(["init"]);
    const status = await element.json<{ generation: number; handle: string; backend: string }>(["status"]);
    const { record, index } = await recordViaTpm2Tools(element.nvIndex);
    assert.equal(record.generation, 1);
    assert.equal(record.handle, status.handle);
    assert.match(status.backend, new RegExp(`NV ${hexIndex(element.nvIndex).replace("0x", "0x0")}`));
    const identifier = record.identifier;
    assert.ok(identifier && identifier.length === 32);
    // Derivation is unchanged on a TPM-held identifier: recomputed independently.
    const keys = await element.json<PublicKeys>(["keys"]);
    assert.deepEqual(keys, independentKeys(identifier));
    // The identifier leaves only wrapped, and openssl unwraps exactly what tpm2_nvread saw.
    const kek = randomBytes(32);
    const kekPath = join(element.dir, "wrap.key");
    writeFileSync(kekPath, kek, { mode: 0o600 });
    const wrapped = (await element.ok(["export", "--wrap-key", kekPath])).stdout.trim();
    writeFileSync(join(element.dir, "wrapped.bin"), Buffer.from(wrapped, "hex"));
    const unwrapped = await openssl([
      "enc",
      "-d",
      "-id-aes256-wrap-pad",
      "-K",
      kek.toString("hex"),
      "-iv",
      "A65959A6",
      "-in",
      join(element.dir, "wrapped.bin"),
    ]);
    assert.equal(unwrapped.code, 0, unwrapped.stderr);
    assertSameSecret(unwrapped.stdoutBytes, identifier);
    // Nothing reid prints on the TPM backend shows the identifier (the scan finds it in openssl's output).
    for (const args of [["status"], ["keys"], ["--json", "status"], ["tpm", "info"], ["cert"], ["csr"]]) {
      assertNoSecretIn(await element.ok(args), [identifier], `reid ${args.join(" ")}`);
    }
    assert.throws(() =>
      assertNoSecretIn({ stdoutBytes: unwrapped.stdoutBytes, stderr: "" }, [identifier], "openssl"),
    );
    // The other index is not defined at all: erase undefines.
    assert.equal(await nvread(index === element.nvIndex ? element.nvIndex + 1 : element.nvIndex), null);
  });

  test("reset moves the record to the other index and undefines the old one; erase leaves a blank record", async (t) => {
    const element = await tpmStore(t);
    await element.ok(["init"]);
    const first = await recordViaTpm2Tools(element.nvIndex);
    await element.ok(["reset"]);
    const second = await recordViaTpm2Tools(element.nvIndex);
    assert.notEqual(second.index, first.index);
    assert.equal(second.record.generation, 2);
    assert.equal(await nvread(first.index), null, "the superseded index is still defined");
    await element.ok(["erase"]);
    const erased = await recordViaTpm2Tools(element.nvIndex);
    assert.equal(erased.record.state, "blank");
    assert.equal(erased.record.identifier, null);
    assert.equal(await nvread(second.index), null, "the erased identifier's index is still defined");
  });
});

describe("reid handles what tpm2-tools defines and writes", () => {
  test("a record written with tpm2_nvwrite into a tpm2_nvdefine'd index is read, with the same keys", async (t) => {
    const source = await tpmStore(t);
    await source.ok(["init"]);
    const { record, bytes } = await recordViaTpm2Tools(source.nvIndex);
    const target = await tpmStore(t);
    const file = join(target.dir, "record.bin");
    // The record names the store that wrote it, which the target is not: written as a record of
    // no store (zero store id and owner hint, checksum recomputed), as an older reid wrote them.
    writeFileSync(file, ownerless(bytes), { mode: 0o600 });
    await nvdefine(target.nvIndex + 1);
    await tpm2Ok(["tpm2_nvwrite", "-C", "o", "-i", file, hexIndex(target.nvIndex + 1)]);
    const status = await target.json<{ state: string; generation: number; handle: string }>(["status"]);
    assert.deepEqual([status.state, status.generation, status.handle], ["set", 1, record.handle]);
    assert.deepEqual(await target.json(["keys"]), await source.json(["keys"]));
    // And reid goes on from there: a reset writes the other index and undefines this one.
    await target.ok(["reset"]);
    assert.equal(await nvread(target.nvIndex + 1), null);
    assert.equal((await recordViaTpm2Tools(target.nvIndex)).record.generation, 2);
  });

  test("garbage written by tpm2_nvwrite is a corrupt store (exit 6); nothing is changed", async (t) => {
    const element = await tpmStore(t);
    const garbage = randomBytes(256);
    const file = join(element.dir, "garbage.bin");
    writeFileSync(file, garbage, { mode: 0o600 });
    await nvdefine(element.nvIndex);
    await tpm2Ok(["tpm2_nvwrite", "-C", "o", "-i", file, hexIndex(element.nvIndex)]);
    assertOneLineError(await element.run(["status"]), 6, /corrupt/);
    assertOneLineError(await element.run(["reset"]), 6, /corrupt/);
    assertSameSecret(await nvread(element.nvIndex), garbage, "the garbage index");
  });

  test("an index of another size, or with authread/authwrite, is refused as foreign and left alone", async (t) => {
    for (const [size, attributes] of [
      ["32", "ownerread|ownerwrite|no_da"],
      ["256", "ownerread|ownerwrite|authread|authwrite"],
    ] as const) {
      const element = await tpmStore(t);
      await nvdefine(element.nvIndex, size, attributes);
      assertOneLineError(await element.run(["init"]), 6, /is not one of reid's/);
      assertOneLineError(await element.run(["status"]), 6, /is not one of reid's/);
      const info = await element.run(["tpm", "info"]);
      assert.match(info.stdout, /defined by someone else/);
      const listed = (await tpm2Ok(["tpm2_nvreadpublic", hexIndex(element.nvIndex)])).stdout.toString();
      assert.match(listed, new RegExp(`size: ${size}`));
    }
  });

  test("an index tpm2_nvdefine'd but never written counts as empty: init uses it", async (t) => {
    const element = await tpmStore(t);
    await nvdefine(element.nvIndex);
    const status = await element.json<{ state: string }>(["status"]);
    assert.equal(status.state, "blank");
    await element.ok(["init"]);
    assert.equal((await recordViaTpm2Tools(element.nvIndex)).record.generation, 1);
  });

  test("tpm2_nvundefine of reid's live index is a lost store (exit 6), never a blank one whose generations restart", async (t) => {
    const element = await tpmStore(t);
    // Before any commit, a store without indices is simply new.
    assert.equal((await element.json<{ generation: number }>(["status"])).generation, 0);
    await element.ok(["init"]);
    await element.ok(["reset"]);
    const marker = join(element.store, "store.json");
    const remembered = JSON.parse(readFileSync(marker, "utf8"));
    assert.deepEqual(
      [remembered.backend, remembered.spec, remembered.committed],
      ["tpm", `${element.spec},sessions=encrypted`, true],
    );
    const { index } = await recordViaTpm2Tools(element.nvIndex);
    await tpm2Ok(["tpm2_nvundefine", "-C", "o", hexIndex(index)]);
    for (const args of [["status"], ["keys"], ["init"], ["reset"]]) {
      assertOneLineError(await element.run(args), 6, /no longer holds either of its areas/);
    }
    assert.equal(await nvread(element.nvIndex), null, "a refused request defined an index");
    assert.equal(await nvread(element.nvIndex + 1), null, "a refused request defined an index");
    // Starting again is the owner's explicit choice: without store.json, --tpm opens a new store.
    rmSync(marker);
    assert.equal((await element.json<{ state: string; generation: number }>(["status"])).generation, 0);
    await element.ok(["init"]);
    assert.equal((await recordViaTpm2Tools(element.nvIndex)).record.generation, 1);
  });
});
