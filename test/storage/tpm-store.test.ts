// The TPM backend beyond the IdentifierStore contract (conformance.test.ts runs that): what the
// TPM itself holds after commits, foreign indices, and interrupted first commits, on a real swtpm.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { StorageError } from "../../src/errors.js";
import { AREA_SIZE } from "../../src/storage/record.js";
import type { TpmSpec } from "../../src/tpm/spec.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { assertSameSecret, containsBytes } from "../helpers/secret.js";
import { defineIndex, nvPublic, readIndex, writeIndex } from "../helpers/tpm-nv.js";
import { backendFixture, storesSwtpm, tpmSpec } from "./backends.js";

/** A TPM store fixture, its first NV index, and the TPM connection for reads behind its back. */
async function tpmFixture(t: import("node:test").TestContext) {
  const fixture = backendFixture(t, await tpmSpec());
  const withTpm = <T>(task: (tpm: Tpm) => Promise<T>) =>
    fixture.withBackend(({ tpm }) => {
      if (!tpm) throw new Error("the TPM backend opened no TPM connection");
      return task(tpm);
    });
  return { ...fixture, nvIndex: (fixture.spec.spec as TpmSpec).nvIndex, withTpm };
}

const record = (generation: number, identifier = randomBytes(32)) =>
  ({
    state: "set",
    generation,
    format: { kind: "raw", length: 32 },
    singleType: false,
    handle: randomBytes(16).toString("hex"),
    identifier,
  }) as const;

test("TPM store: erase undefines the superseded index; exactly one index is defined after each commit", async (t) => {
  const fixture = await tpmFixture(t);
  const defined = (index: number) => fixture.withTpm((tpm) => nvPublic(tpm, index));
  const store = await fixture.open();
  try {
    assert.equal(await defined(fixture.nvIndex), null, "a new store defines nothing before its first commit");
    for (let generation = 1; generation <= 4; generation++) {
      await store.commit(record(generation));
      const both = [await defined(fixture.nvIndex), await defined(fixture.nvIndex + 1)];
      assert.equal(both.filter(Boolean).length, 1, `generation ${generation}: both indices are defined`);
    }
    await store.commit({ ...record(4), state: "blank", handle: null, identifier: null });
  } finally {
    await store.close();
  }
});

test("TPM store: superseded identifiers are gone from swtpm's own NV state on disk, not only from NV_Read", async (t) => {
  const swtpm = await storesSwtpm();
  const fixture = await tpmFixture(t);
  const identifiers = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const store = await fixture.open();
  try {
    for (const [i, identifier] of identifiers.entries())
      await store.commit(record(i + 1, Buffer.from(identifier)));
  } finally {
    await store.close();
  }
  const stateDir = join(swtpm.stateDir, "state");
  const files = readdirSync(stateDir).map((name) => readFileSync(join(stateDir, name)));
  assert.ok(files.length > 0, "swtpm keeps its NV in a state file");
  // The live identifier is there (the scan can find what it looks for); the old ones are not.
  assert.ok(
    files.some((bytes) => containsBytes(bytes, identifiers[2] as Buffer)),
    "the live identifier is not in the state",
  );
  for (const old of identifiers.slice(0, 2)) {
    assert.ok(
      !files.some((bytes) => containsBytes(bytes, old)),
      "a superseded identifier is still in swtpm's state",
    );
  }
});

test("TPM store: an index of another size or with other attributes is refused as foreign, and left alone", async (t) => {
  for (const [what, size, attributes] of [
    ["size", 32, undefined],
    ["attributes", AREA_SIZE, 0x00060006], // ownerread|authread|ownerwrite|authwrite
  ] as const) {
    const fixture = await tpmFixture(t);
    const foreign = randomBytes(size);
    await fixture.withTpm((tpm) => writeIndex(tpm, fixture.nvIndex, foreign, attributes));
    const error = await fixture.open().then(async (store) => {
      try {
        return await store.load().then(
          () => null,
          (e: unknown) => e,
        );
      } finally {
        await store.close();
      }
    });
    assert.ok(error instanceof StorageError, `${what}: a foreign index was taken`);
    assert.equal(error.code, "store-foreign");
    assert.match(error.message, /is not one of reid's/);
    const left = await fixture.withTpm((tpm) => readIndex(tpm, fixture.nvIndex));
    assertSameSecret(left, foreign, "the foreign index");
  }
});

test("TPM store: a defined index that was never written reads as empty (an interrupted first commit)", async (t) => {
  const fixture = await tpmFixture(t);
  await fixture.withTpm((tpm) => defineIndex(tpm, fixture.nvIndex, AREA_SIZE));
  const identifier = randomBytes(32);
  const again = await fixture.open();
  try {
    assert.equal((await again.load()).state, "blank");
    await again.commit(record(1, Buffer.from(identifier)));
    assertSameSecret((await again.load()).identifier, identifier);
  } finally {
    await again.close();
  }
});
