import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FactoryError, StorageError, UsageError } from "../../src/errors.js";
import { factoryDirectory } from "../../src/factory/provisioning.js";
import {
  enrol,
  type HelperData,
  RESPONSE_BITS,
  recoverResponse,
  reproduce,
} from "../../src/factory/puf/fuzzy-extractor.js";
import { PufSimSource, parsePufConditions } from "../../src/factory/puf/puf-sim-source.js";
import { SimulatedSramPuf } from "../../src/factory/puf/sram-puf.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

test("puf-sim source: enrols once into the store (0600 files, 0700 folder), then reproduces the same root", async (t) => {
  const { store } = tempDir(t);
  const source = new PufSimSource(store, { bitErrorRate: 0.1 });
  await assert.rejects(source.root(), (e) => e instanceof FactoryError && /never enrolled/.test(e.message));
  await source.provision();
  const dir = factoryDirectory(store);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(dir).sort(), ["puf-sim-helper.json", "puf-sim-silicon"]);
  for (const name of readdirSync(dir)) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600);
  const helper = readFileSync(join(dir, "puf-sim-helper.json"), "utf8");
  const root = await source.root();
  await source.provision(); // again: keeps the helper data
  assert.equal(readFileSync(join(dir, "puf-sim-helper.json"), "utf8"), helper);
  for (let i = 0; i < 20; i++) assertSameSecret(await source.root(), root, "root");
  // Another store is another chip.
  const other = tempDir(t);
  const second = new PufSimSource(other.store);
  await second.provision();
  assertDifferentSecret(await second.root(), root, "root");
});

test("puf-sim source: enrolling the same chip again gives its preferred values, so the same root: 40 enrolments at a 10% bit-error rate", async (t) => {
  const { store } = tempDir(t);
  const source = new PufSimSource(store, { bitErrorRate: 0.1 });
  const dir = factoryDirectory(store);
  const helperPath = join(dir, "puf-sim-helper.json");
  await source.provision();
  const seed = Buffer.from(readFileSync(join(dir, "puf-sim-silicon"), "utf8").trim(), "hex");
  // The chip read without noise: each cell's preferred value, what enrolment must capture.
  const preferred = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0 }).read();
  const helpers: HelperData[] = [];
  for (let n = 0; n < 40; n++) {
    if (n > 0) {
      unlinkSync(helperPath); // the helper data lost: the chip is enrolled again
      await source.provision();
    }
    const { offset, check } = JSON.parse(readFileSync(helperPath, "utf8")) as {
      offset: string;
      check: string;
    };
    const helper = { offset: Buffer.from(offset, "hex"), check: Buffer.from(check, "hex") };
    const enrolled = recoverResponse(preferred, helper);
    assert.ok(enrolled !== null, `enrolment ${n}: the preferred values do not decode`);
    let missed = 0;
    for (let i = 0; i < RESPONSE_BITS; i++) missed += (enrolled[i] as number) ^ (preferred[i] as number);
    assert.equal(missed, 0, `enrolment ${n} of the chip missed ${missed} cells' preferred values`);
    helpers.push(helper);
  }
  const [first, ...again] = helpers as [HelperData, ...HelperData[]];
  const root = reproduce(preferred, first);
  for (const helper of again) {
    assertDifferentSecret(helper.offset, first.offset, "helper offset");
    assertSameSecret(reproduce(preferred, helper), root, "root");
  }
  assertSameSecret(await source.root(), root, "root");
});

test("puf-sim source: helper data an earlier enrolment wrote keeps its root, even one that missed a cell's preferred value", async (t) => {
  const { store } = tempDir(t);
  const source = new PufSimSource(store);
  await source.provision();
  const dir = factoryDirectory(store);
  const seed = Buffer.from(readFileSync(join(dir, "puf-sim-silicon"), "utf8").trim(), "hex");
  const response = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0 }).read();
  const today = await source.root();
  // As a 15-read majority sometimes did: one cell enrolled against its preferred value.
  response[1234] = (response[1234] as number) ^ 1;
  const earlier = enrol(response);
  const text = JSON.stringify({
    code: "golay24-rep11x11/v1",
    offset: Buffer.from(earlier.helper.offset).toString("hex"),
    check: Buffer.from(earlier.helper.check).toString("hex"),
  });
  writeFileSync(join(dir, "puf-sim-helper.json"), `${text}\n`);
  assertDifferentSecret(earlier.root, today, "root");
  for (let i = 0; i < 20; i++) assertSameSecret(await source.root(), earlier.root, "root");
});

test("puf-sim source: a damaged helper file or chip is a clear storage error, a noisy chip a factory error", async (t) => {
  const { store } = tempDir(t);
  await new PufSimSource(store).provision();
  const helperPath = join(factoryDirectory(store), "puf-sim-helper.json");
  const good = readFileSync(helperPath, "utf8");
  await assert.rejects(new PufSimSource(store, { bitErrorRate: 0.45 }).root(), FactoryError);
  writeFileSync(helperPath, "{");
  await assert.rejects(
    new PufSimSource(store).root(),
    (e) => e instanceof StorageError && /not JSON/.test(e.message),
  );
  writeFileSync(helperPath, good.replace(/"check":"[0-9a-f]{2}/, '"check":"zz'));
  await assert.rejects(new PufSimSource(store).root(), /bad helper data/);
  writeFileSync(helperPath, good);
  writeFileSync(join(factoryDirectory(store), "puf-sim-silicon"), "not a seed\n");
  await assert.rejects(new PufSimSource(store).root(), /puf-sim-silicon is corrupt/);
});

test("puf-sim source: REID_PUF_SIM conditions parse, and bad ones are one-line usage errors", () => {
  assert.deepEqual(parsePufConditions(undefined), { bitErrorRate: 0.05 });
  assert.deepEqual(parsePufConditions("ber=0.1,temperature=-20,age=5"), {
    bitErrorRate: 0.1,
    temperatureC: -20,
    ageYears: 5,
  });
  for (const bad of ["ber=0.7", "ber=x", "volts=3", "age=-1", "ber=0.1;rm"]) {
    assert.throws(
      () => parsePufConditions(bad),
      (e) => e instanceof UsageError && !e.message.includes("\n"),
    );
  }
});
