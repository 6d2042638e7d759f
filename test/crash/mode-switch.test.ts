// Patent claim 20's mode switch, killed at random moments (issue 7): a real child process
// (test/fixtures/reset-loop.ts --switch-modes) switches factory -> random -> factory ... on a
// store initialized with the simulated PUF, and is SIGKILLed over and over. After every kill the
// real CLI must show a set element in the old or the new mode, its generation the last acknowledged
// or one more, and the mode must belong to the identifier: factory mode holds exactly the factory
// identifier, random mode anything but; every record in the area files is whole and its identifier
// belongs to its handle.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync } from "node:fs";
import { test } from "node:test";
import { deriveHandle } from "../../src/derive/derivation.js";
import { currentRecord } from "../cli/store.js";
import { reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import { forget, readAreas, runAndKill } from "../helpers/reset-loop.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const KILLS = 100;
const MAX_DELAY_MS = 30;

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
  readonly mode: string;
}

test(`mode switch both ways, SIGKILLed ${KILLS} times: always a valid identifier of the old or the new mode`, async (t) => {
  const { store } = tempDir(t);
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status & { mode: string }>(["--store", store, "init", "--factory", "puf-sim"]);
  assert.equal(init.mode, "factory");
  const factoryIdentifier = Uint8Array.from(currentRecord(store).identifier as Uint8Array);
  t.after(() => factoryIdentifier.fill(0));

  /** Checks what a kill left in `at`; returns the status in force. */
  const check = async (where: string, at = store): Promise<Status> => {
    const status = await reidJson<Status>(["--store", at, "status"]);
    assert.equal(status.state, "set", `${where}: the element is blank`);
    // Generations alternate modes from the factory init at 1: odd factory, even random.
    assert.equal(
      status.mode,
      status.generation % 2 === 1 ? "factory" : "random",
      `${where}: mode and generation disagree`,
    );
    const areas = readAreas(at);
    try {
      assert.ok(areas.records.length >= 1, `${where}: no record left`);
      areas.decoded.forEach((area, i) => {
        assert.ok(
          area.kind !== "corrupt",
          `${where}: area-${i} is torn (${area.kind === "corrupt" ? area.reason : ""})`,
        );
      });
      const newest = areas.records[0];
      assert.equal(newest?.generation, status.generation, `${where}: status is not the newest record`);
      for (const record of areas.records) {
        const identifier = record.identifier as Uint8Array;
        assert.equal(
          deriveHandle(identifier),
          record.handle,
          `${where}: an identifier does not belong to its handle`,
        );
        if (record.mode === "factory")
          assertSameSecret(identifier, factoryIdentifier, `${where}: factory identifier`);
        else assertDifferentSecret(identifier, factoryIdentifier, `${where}: random identifier`);
      }
    } finally {
      forget(areas);
    }
    assert.equal(
      status.mode === "factory",
      status.handle === init.handle,
      `${where}: the handle does not fit the mode`,
    );
    return status;
  };
  await check("after init");
  // The checker rejects what it must: a copy of the store whose factory-mode record holds a random
  // identifier (with its own, matching handle) is refused.
  const probe = `${store}-probe`;
  cpSync(store, probe, { recursive: true });
  const forged = await openFileStore(probe, { write: true, lockTimeoutMs: 5000, sealer: null });
  const random = randomBytes(32);
  await forged.commit({
    state: "set",
    generation: 3,
    format: { kind: "raw", length: 32 },
    singleType: false,
    mode: "factory",
    handle: deriveHandle(random),
    identifier: random,
  });
  await forged.close();
  await assert.rejects(check("probe", probe), /factory identifier/);
  let committed = init.generation;
  const landed = { acknowledged: 0, unacknowledged: 0 };
  for (let kill = 1; kill <= KILLS; kill++) {
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, undefined, ["--switch-modes"]);
    const where = `kill ${kill} (after ${delayMs} ms)`;
    assert.equal(
      acks[0],
      committed + 1,
      `${where}: the first switch did not continue from generation ${committed}`,
    );
    const last = acks.at(-1) ?? committed;
    const status = await check(where);
    assert.ok(
      status.generation === last || status.generation === last + 1,
      `${where}: generation ${status.generation}, last acknowledged ${last}`,
    );
    landed[status.generation === last ? "acknowledged" : "unacknowledged"]++;
    committed = status.generation;
  }
  // Kills landed both between switches and inside one (committed, not yet acknowledged).
  t.diagnostic(`kills: ${JSON.stringify(landed)}, generation ${committed}`);
  assert.ok(committed > KILLS, "fewer switches than kills");
});
