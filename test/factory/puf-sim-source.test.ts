import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FactoryError, StorageError, UsageError } from "../../src/errors.js";
import { factoryDirectory } from "../../src/factory/provisioning.js";
import { PufSimSource, parsePufConditions } from "../../src/factory/puf/puf-sim-source.js";
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
