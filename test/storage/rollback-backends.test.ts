// Issue 16, item 4, on every backend, as an attacker who holds what the backend asks for (the
// owner authorization of the TPM, the token's user PIN, write access to the directory): the areas
// are saved, the store commits on, and the saved areas are written back through the backend's
// own code. The store refuses them (store-rolled-back); the newer areas put back read again. On
// the TPM the counter is a TPM_NT_COUNTER index after the areas, and removing it is refused too;
// on the token it is a private data object. docs/spec.md §5.10.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ReidError } from "../../src/errors.js";
import { COUNTER_LABEL } from "../../src/storage/pkcs11/counter.js";
import { REID_COUNTER_ATTRIBUTES } from "../../src/storage/tpm/nv-counter.js";
import type { TpmSpec } from "../../src/tpm/spec.js";
import { nvPublic, undefineIndex } from "../helpers/tpm-nv.js";
import { backendFixture, pkcs11Spec, STORE_BACKENDS, storesSoftHsm, tpmSpec } from "./backends.js";
import type { StoreFixture } from "./conformance.js";
import { setRecord } from "./conformance.js";

async function commits(fixture: StoreFixture, generations: readonly number[]): Promise<void> {
  const store = await fixture.open();
  try {
    for (const generation of generations) await store.commit(setRecord(generation));
  } finally {
    await store.close();
  }
}

async function snapshot(fixture: StoreFixture): Promise<[Uint8Array, Uint8Array]> {
  return [await fixture.area(0), await fixture.area(1)];
}

async function putBack(fixture: StoreFixture, areas: readonly [Uint8Array, Uint8Array]): Promise<void> {
  await fixture.damage(0, areas[0]);
  await fixture.damage(1, areas[1]);
}

/** What the store says when it reads its record: its generation, or the refusal's code. */
async function reads(fixture: StoreFixture): Promise<number | string> {
  const store = await fixture.open();
  try {
    return (await store.info()).generation;
  } catch (error) {
    if (error instanceof ReidError) return error.code;
    throw error;
  } finally {
    await store.close();
  }
}

for (const backend of STORE_BACKENDS) {
  describe(`rollback: ${backend.name}`, () => {
    test("areas saved and written back after later commits are refused; the newer ones put back read", async (t) => {
      const fixture = await backend.fixture(t);
      await commits(fixture, [1, 2]);
      const old = await snapshot(fixture);
      await commits(fixture, [3, 4]);
      const newer = await snapshot(fixture);
      await putBack(fixture, old);
      assert.equal(await reads(fixture), "store-rolled-back");
      // The refusal wrote nothing: the newer areas put back are the store again.
      await putBack(fixture, newer);
      assert.equal(await reads(fixture), 4);
      await commits(fixture, [5]);
      assert.equal(await reads(fixture), 5);
    });

    test("an erase rolled back (the same generation, an older commit) is refused too", async (t) => {
      const fixture = await backend.fixture(t);
      await commits(fixture, [1]);
      const old = await snapshot(fixture);
      const store = await fixture.open();
      try {
        await store.commit({ ...setRecord(1), state: "blank", handle: null, identifier: null });
      } finally {
        await store.close();
      }
      await putBack(fixture, old);
      assert.equal(await reads(fixture), "store-rolled-back");
    });
  });
}

test("TPM: the counter is a TPM_NT_COUNTER index after the areas; undefined, the store is refused, not read", async (t) => {
  const spec = await tpmSpec();
  const fixture = backendFixture(t, spec);
  const index = (spec.spec as TpmSpec).nvIndex + 2;
  await commits(fixture, [1, 2]);
  const pub = await fixture.withBackend(({ tpm }) => nvPublic(tpm as NonNullable<typeof tpm>, index));
  assert.ok(pub, "no counter index");
  assert.equal(pub.dataSize, 8);
  assert.equal((pub.attributes & ~(1 << 29)) >>> 0, REID_COUNTER_ATTRIBUTES);
  assert.equal(await reads(fixture), 2);
  await fixture.withBackend(({ tpm }) => undefineIndex(tpm as NonNullable<typeof tpm>, index));
  assert.equal(await reads(fixture), "store-rolled-back");
});

test("PKCS#11: the counter is one private data object; destroyed with pkcs11-tool, the store is refused, not read", async (t) => {
  const token = await (await storesSoftHsm()).token();
  const fixture = backendFixture(t, await pkcs11Spec(token));
  await commits(fixture, [1, 2, 3]);
  assert.equal(await reads(fixture), 3);
  const listed = (await token.userTool(["--list-objects", "--type", "data"])).toString("utf8");
  assert.equal(listed.match(new RegExp(`label:\\s+'${COUNTER_LABEL}'`, "g"))?.length, 1, listed);
  await token.userTool(["--delete-object", "--type", "data", "--label", COUNTER_LABEL]);
  assert.equal(await reads(fixture), "store-rolled-back");
});
