// The PKCS#11 backend's objects as OpenSC's pkcs11-tool (an independent client) sees them: the
// record is in reid's object while set, superseded and erased identifiers are in no object and
// in no file of SoftHSM's token directory, and objects reid did not make are refused and left as
// they were, while an object shaped as reid makes them is taken (and read as corrupt when it is).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { ExitCode, StorageError } from "../../src/errors.js";
import { AREA_SIZE } from "../../src/storage/record.js";
import { readStoreFile, writeStoreFile } from "../../src/storage/store-file.js";
import { specText } from "../../src/storage/store-spec.js";
import { assertSameSecret, containsBytes } from "../helpers/secret.js";
import { type SoftHsmToken, tokenFiles } from "../helpers/softhsm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { setRecord } from "./conformance.js";
import { pkcs11Fixture, softhsm } from "./pkcs11-fixture.js";

/** The labels of the token's data objects, as pkcs11-tool lists them (logged in: private ones too). */
async function dataLabels(token: SoftHsmToken): Promise<string[]> {
  const listing = (await token.userTool(["--list-objects", "--type", "data"])).toString();
  return [...listing.matchAll(/^Data object \d+\n\s+label:\s+'([^']*)'/gm)].map((m) => m[1] as string);
}

/** Every data object's value, read one by one with pkcs11-tool --read-object. */
async function dataValues(token: SoftHsmToken): Promise<{ label: string; value: Buffer }[]> {
  const values = [];
  for (const label of await dataLabels(token)) {
    values.push({
      label,
      value: await token.userTool(["--read-object", "--type", "data", "--label", label]),
    });
  }
  return values;
}

/** What pkcs11-tool shows of the whole token: the listing of every object, and every data value. */
async function snapshot(token: SoftHsmToken): Promise<string> {
  const listing = (await token.userTool(["--list-objects"])).toString();
  const values = (await dataValues(token)).map(({ label, value }) => `${label}=${value.toString("hex")}`);
  return [listing, ...values].join("\n");
}

/** Writes a data object with pkcs11-tool: value from a file, label, and whatever else `extra` says. */
async function writeData(
  token: SoftHsmToken,
  dir: string,
  label: string,
  value: Uint8Array,
  extra: readonly string[],
): Promise<void> {
  const file = secretFile(dir, `value-${randomBytes(4).toString("hex")}`, value);
  await token.userTool(["--write-object", file, "--type", "data", "--label", label, ...extra]);
}

test("pkcs11-tool reads the live record in reid's one object; superseded and erased identifiers are in no object and no token file", async (t) => {
  const fixture = await pkcs11Fixture(t);
  const { token } = fixture;
  const { dir } = tempDir(t);
  // Someone else's object on the token, public, so its value lies in clear in SoftHSM's files.
  const theirs = randomBytes(64);
  await writeData(token, dir, "someone-else", theirs, []);
  const scan = async () => tokenFiles(await softhsm()).map(({ bytes }) => bytes);
  assert.ok(
    (await scan()).some((bytes) => containsBytes(bytes, theirs)),
    "the token-file scan cannot find a value stored in clear",
  );

  const identifiers = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const store = await fixture.open();
  try {
    for (const [i, identifier] of identifiers.entries()) {
      await store.commit(setRecord(i + 1, Buffer.from(identifier)));
      const ours = (await dataLabels(token)).filter((label) => label.startsWith("reid-area-"));
      assert.equal(ours.length, 1, `generation ${i + 1}: reid holds ${ours.length} objects, not one`);
      const value = await token.userTool(["--read-object", "--type", "data", "--label", ours[0] as string]);
      assert.equal(value.length, AREA_SIZE);
      assert.ok(containsBytes(value, identifier), "pkcs11-tool does not see the live identifier");
      assertSameSecret(Uint8Array.from(value), await fixture.area(ours[0] === "reid-area-0" ? 0 : 1), "area");
      // Private objects are kept encrypted: not even the live identifier is in SoftHSM's files.
      assert.ok(
        !(await scan()).some((bytes) => containsBytes(bytes, identifier)),
        "the live identifier is on disk in clear",
      );
      for (const old of identifiers.slice(0, i)) {
        for (const { label, value: other } of await dataValues(token)) {
          assert.ok(!containsBytes(other, old), `object '${label}' still holds a superseded identifier`);
        }
      }
    }
    await store.commit({ ...setRecord(3), state: "blank", handle: null, identifier: null });
  } finally {
    await store.close();
  }
  // Erased: one object of reid's holds the blank record; nothing else of reid's is left.
  const after = await dataValues(token);
  assert.equal(after.filter(({ label }) => label.startsWith("reid-area-")).length, 1);
  for (const { label, value } of after) {
    for (const old of identifiers)
      assert.ok(!containsBytes(value, old), `object '${label}' holds an erased identifier`);
  }
  for (const old of identifiers) {
    assert.ok(
      !(await scan()).some((bytes) => containsBytes(bytes, old)),
      "a token file holds an erased identifier",
    );
  }
  const untouched = after.find(({ label }) => label === "someone-else");
  assert.ok(untouched?.value.equals(theirs), "reid changed an object it did not make");
});

/** Opens the fixture's store and tries a load and a commit; returns the two failures. */
async function refusals(
  open: () => Promise<import("../../src/storage/identifier-store.js").IdentifierStore>,
) {
  const store = await open();
  try {
    const load = await store.load().then(
      () => null,
      (error: unknown) => error,
    );
    const commit = await store.commit(setRecord(1)).then(
      () => null,
      (error: unknown) => error,
    );
    return [load, commit];
  } finally {
    await store.close();
  }
}

const FOREIGN: readonly {
  readonly what: string;
  readonly make: (token: SoftHsmToken, dir: string) => Promise<void>;
  readonly why: RegExp;
}[] = [
  {
    what: "not private",
    make: (token, dir) =>
      writeData(token, dir, "reid-area-0", randomBytes(AREA_SIZE), ["--application-label", "reid"]),
    why: /it is not private/,
  },
  {
    what: "another application",
    make: (token, dir) =>
      writeData(token, dir, "reid-area-0", randomBytes(AREA_SIZE), [
        "--private",
        "--application-label",
        "other",
      ]),
    why: /its application is 'other', not 'reid'/,
  },
  {
    what: "another size",
    make: (token, dir) =>
      writeData(token, dir, "reid-area-1", randomBytes(32), ["--private", "--application-label", "reid"]),
    why: /it holds 32 bytes, not 256/,
  },
  {
    what: "another class",
    make: async (token) => {
      await token.userTool(["--keygen", "--key-type", "AES:16", "--label", "reid-area-1"]);
    },
    why: /it is a CKO_SECRET_KEY object, not a data object/,
  },
  {
    what: "two objects with one label",
    make: async (token, dir) => {
      for (let i = 0; i < 2; i++) {
        await writeData(token, dir, "reid-area-0", randomBytes(AREA_SIZE), [
          "--private",
          "--application-label",
          "reid",
        ]);
      }
    },
    why: /2 objects carry this label/,
  },
];

for (const foreign of FOREIGN) {
  test(`an object with reid's label made by someone else (${foreign.what}) is refused (exit 6) and left exactly as it was`, async (t) => {
    const fixture = await pkcs11Fixture(t);
    const { dir } = tempDir(t);
    await foreign.make(fixture.token, dir);
    const before = await snapshot(fixture.token);
    for (const error of await refusals(fixture.open)) {
      assert.ok(error instanceof StorageError, `a foreign object was taken: ${String(error)}`);
      assert.equal(error.code, "store-foreign");
      assert.equal(error.exitCode, ExitCode.storage);
      assert.match(error.message, /is not one of reid's/);
      assert.match(error.message, foreign.why);
      assert.doesNotMatch(error.message, /\n/);
    }
    assert.equal(await snapshot(fixture.token), before, "reid changed an object it did not make");
  });
}

test("an object shaped as reid makes them is taken: written by pkcs11-tool it serves its record, and garbage in it reads as corrupt", async (t) => {
  const { dir } = tempDir(t);
  // A real record, made by reid on one token and copied by pkcs11-tool onto another.
  const source = await pkcs11Fixture(t);
  const identifier = randomBytes(32);
  const first = await source.open();
  try {
    await first.commit(setRecord(1, Buffer.from(identifier)));
  } finally {
    await first.close();
  }
  const recordBytes = await source.token.userTool([
    "--read-object",
    "--type",
    "data",
    "--label",
    "reid-area-0",
  ]);
  const copy = await pkcs11Fixture(t);
  await writeData(copy.token, dir, "reid-area-0", recordBytes, ["--private", "--application-label", "reid"]);
  // The record carries the source store's id: the copy's directory is that store's, moved to the
  // other token (as a restored backup of the directory would be), or the record is refused as
  // another store's.
  const sourceId = readStoreFile(source.directory)?.id;
  assert.ok(sourceId, "the source store remembers no id");
  writeStoreFile(copy.directory, {
    id: sourceId,
    backend: "pkcs11",
    spec: specText(copy.spec),
    committed: true,
  });
  const store = await copy.open();
  try {
    assertSameSecret((await store.load()).identifier, identifier);
  } finally {
    await store.close();
  }

  // The same shape holding garbage: reid's object, corrupt, not foreign.
  const garbage = await pkcs11Fixture(t);
  await writeData(garbage.token, dir, "reid-area-0", randomBytes(AREA_SIZE), [
    "--private",
    "--application-label",
    "reid",
  ]);
  const before = await snapshot(garbage.token);
  const [load, commit] = await refusals(garbage.open);
  for (const error of [load, commit]) {
    assert.ok(error instanceof StorageError, `garbage was taken: ${String(error)}`);
    assert.equal(error.code, "store-corrupt");
    assert.match(error.message, /corrupt/);
  }
  assert.equal(await snapshot(garbage.token), before, "a refused commit changed the token");
});
